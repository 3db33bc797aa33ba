"""The MQTT link (paho lives only in ``edge.mqtt.link``) and the pure topic router."""

from edge.mqtt.link import MqttLink
from edge.mqtt.routing import (
    DeadLetterSink,
    Deferred,
    Handler,
    HandlerRejected,
    Message,
    Route,
    TopicRouter,
    topic_matches,
)
from edge.mqtt.settings import LinkSettings, PublishError

__all__ = [
    "DeadLetterSink",
    "Deferred",
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
