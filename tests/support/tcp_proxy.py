"""A TCP proxy that a test can cut: drops a client's connection while the server stays up.

It also keeps a copy of the bytes of each direction (``upstream``: client to server, ``downstream``)
so a test can read the MQTT packets on the wire (``mqtt_packets``).
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.accepting = True
        self.connections = 0
        self.upstream = bytearray()
        self.downstream = bytearray()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Close every proxied connection at once (both directions)."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.accepting:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers |= {writer, up_writer}
        self.upstream.clear()
        self.downstream.clear()  # one connection's bytes at a time: packets parse from its start
        await asyncio.gather(self._pipe(reader, up_writer, self.upstream),
                             self._pipe(up_reader, writer, self.downstream))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, copy: bytearray) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                copy += data
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._writers.discard(writer)


def mqtt_packets(stream: bytes | bytearray) -> list[tuple[int, bytes]]:
    """(packet type, variable header + payload) of each complete MQTT packet in a byte stream."""
    packets = []
    pos = 0
    while pos + 2 <= len(stream):
        kind = stream[pos] >> 4
        length, shift, at = 0, 0, pos + 1
        while True:
            if at >= len(stream):
                return packets
            byte = stream[at]
            length |= (byte & 0x7F) << shift
            shift += 7
            at += 1
            if not byte & 0x80:
                break
        if at + length > len(stream):
            return packets
        packets.append((kind, bytes(stream[at:at + length])))
        pos = at + length
    return packets


PUBLISH, PUBACK = 3, 4


def publish_ids(stream: bytes | bytearray) -> list[int]:
    """Packet ids of the QoS 1 PUBLISH packets in a server-to-client stream, in order."""
    ids = []
    for kind, body in mqtt_packets(stream):
        if kind == PUBLISH:
            topic_len = int.from_bytes(body[:2], "big")
            ids.append(int.from_bytes(body[2 + topic_len:4 + topic_len], "big"))
    return ids


def puback_ids(stream: bytes | bytearray) -> list[int]:
    """Packet ids of the PUBACK packets in a client-to-server stream, in order."""
    return [int.from_bytes(body[:2], "big") for kind, body in mqtt_packets(stream) if kind == PUBACK]
