"""The MQTT link (paho lives only in ``edge.mqtt.link``) and the pure topic router."""

from edge.mqtt.link import LinkSettings, MqttLink, PublishError
from edge.mqtt.routing import (
    DeadLetterSink,
    Handler,
    HandlerRejected,
    Message,
    Route,
    TopicRouter,
    topic_matches,
)

__all__ = [
    "DeadLetterSink",
    "Handler",
    "HandlerRejected",
    "LinkSettings",
    "Message",
    "MqttLink",
    "PublishError",
    "Route",
    "TopicRouter",
    "topic_matches",
]
