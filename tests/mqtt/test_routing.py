from __future__ import annotations

import pytest

from edge.mqtt import TopicRouter, topic_matches


@pytest.mark.parametrize(("pattern", "topic", "expected"), [
    ("bwc/+/telemetry", "bwc/cam-1/telemetry", True),
    ("bwc/+/telemetry", "bwc/cam-1/event", False),
    ("bwc/+/telemetry", "bwc/cam-1/telemetry/x", False),
    ("bwc/#", "bwc", True),
    ("bwc/#", "bwc/cam-1/cmd/time_sync", True),
    ("#", "anything/at/all", True),
    ("#", "$SYS/broker/uptime", False),
    ("+/x", "$SYS/x", False),
    ("$SYS/#", "$SYS/broker", True),
    ("a/+/c", "a//c", True),
    ("a/b", "a/b/", False),
])
def test_mqtt_wildcards(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected


def test_first_matching_route_wins_and_duplicates_are_refused() -> None:
    async def first(message: object) -> None: ...
    async def second(message: object) -> None: ...

    router = TopicRouter()
    router.add("bwc/+/event", first, name="events")
    router.add("bwc/#", second)
    route = router.match("bwc/cam-1/event")
    assert route is not None and route.name == "events"
    assert router.match("edge/x") is None
    with pytest.raises(ValueError, match="exists already"):
        router.add("bwc/#", first)
