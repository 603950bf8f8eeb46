"""Radio time of the patch's BLE traffic on LE 1M PHY: frames of firmware/wire.py as notifications.

One ATT notification of a V-byte value is an L2CAP SDU of 3 + V bytes (opcode, handle) plus a
4-byte L2CAP header, cut into link-layer data PDUs of at most `ll_payload` bytes (251 with the
Data Length Extension, 27 without). On LE 1M PHY one bit takes 1 us, and a data packet with an
n-byte payload is

    t_packet(n) = 8 * (1 preamble + 4 access address + 2 header + n + 4 MIC if encrypted + 3 CRC) us

The peer answers every packet (here: an empty PDU, which never carries a MIC) after T_IFS = 150 us,
and the next packet follows T_IFS after that, so each data packet costs the radio

    t_exchange(n) = t_packet(n) + T_IFS + t_packet(0, unencrypted) + T_IFS  us.

Per hour: bytes = sum of frame bytes; packets = sum over notifications of
ceil((V + 7) / ll_payload); radio time = sum of t_exchange. Each item the gateway acknowledges
(an EVENT, a snippet) adds its ACK write (10-byte frame), the patch's RESPONSE indication
(7-byte frame) and the gateway's confirmation (1-byte ATT PDU), one packet each. Keeping the
connection costs one empty exchange per connection event, 3600 / interval_s events an hour
(peripheral latency 0), each t_packet(0) + T_IFS + t_packet(0) = 310 us: the central's empty
packet and the patch's empty answer (window widening and the radio's ramp-up are not counted).
A data packet's exchange above already counts the central's packet that answers it; the
central's first packet of an event is the connection event's own cost.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware import wire

T_IFS_US = 150
PREAMBLE_B = 1  # LE 1M
ACCESS_ADDRESS_B = 4
HEADER_B = 2
MIC_B = 4
CRC_B = 3
ATT_NOTIFY_HEADER_B = 3  # opcode + attribute handle
L2CAP_HEADER_B = 4
ATT_CONFIRM_B = 1
EVENT_FRAME_B = 36
SUMMARY_FRAME_B = 29
SNIPPET_HEADER_FRAME_B = 44
ACK_FRAME_B = 10
RESPONSE_FRAME_B = 7


def packet_us(payload_b: int, encrypted: bool = True) -> int:
    """Air time of one LE 1M data packet with `payload_b` bytes of LL payload (MIC only on non-empty)."""
    mic = MIC_B if encrypted and payload_b > 0 else 0
    return 8 * (PREAMBLE_B + ACCESS_ADDRESS_B + HEADER_B + payload_b + mic + CRC_B)


def exchange_us(payload_b: int, encrypted: bool = True) -> int:
    """One data packet, the peer's empty acknowledgment and both inter-frame spaces."""
    return packet_us(payload_b, encrypted) + T_IFS_US + packet_us(0, encrypted) + T_IFS_US


def idle_event_us() -> int:
    """A connection event with nothing to send: the central's empty packet, T_IFS, the patch's."""
    return packet_us(0) + T_IFS_US + packet_us(0)


def att_packets(value_b: int, ll_payload: int = 251) -> list[int]:
    """LL payload sizes of one ATT PDU carrying `value_b` bytes after its 3-byte header."""
    total = L2CAP_HEADER_B + ATT_NOTIFY_HEADER_B + value_b
    sizes = [ll_payload] * (total // ll_payload)
    if total % ll_payload:
        sizes.append(total % ll_payload)
    return sizes


@dataclass(frozen=True)
class Airtime:
    bytes: int  # frame bytes (wire.py), both directions
    packets: int  # LL data packets sent (not counting the empty acknowledgments)
    radio_us: float  # data exchanges
    idle_events: int  # connection events
    idle_us: float  # empty exchanges of the connection events

    @property
    def total_us(self) -> float:
        return self.radio_us + self.idle_us


def frames_airtime(values: list[int], ll_payload: int = 251, encrypted: bool = True) -> tuple[int, float]:
    """(packets, radio us) of ATT PDUs carrying these value sizes."""
    packets = 0
    us = 0.0
    for v in values:
        for n in att_packets(v, ll_payload):
            packets += 1
            us += exchange_us(n, encrypted)
    return packets, us


def snippet_values(samples: int, mtu: int = 247) -> list[int]:
    """Notification values of one int16 snippet: its header, then full and last fragments."""
    size = wire.fragment_size_for_mtu(mtu)
    payload = 2 * samples
    full, rest = divmod(payload, size)
    values = [SNIPPET_HEADER_FRAME_B] + [size + wire.FRAGMENT_OVERHEAD] * full
    if rest:
        values.append(rest + wire.FRAGMENT_OVERHEAD)
    return values


def hourly_airtime(
    events_per_h: float,
    summaries_per_h: float,
    snippet_samples_per_h: float,
    snippets_per_h: float,
    *,
    mtu: int = 247,
    ll_payload: int = 251,
    encrypted: bool = True,
    interval_s: float = 1.0,
) -> Airtime:
    """Airtime of an hour's traffic at these rates (fractional rates scale one item's cost).

    The snippet samples are spread over `snippets_per_h` equal snippets (their fragment count
    depends on the size only through the last, partial fragment)."""
    ev_p, ev_us = frames_airtime([EVENT_FRAME_B], ll_payload, encrypted)
    su_p, su_us = frames_airtime([SUMMARY_FRAME_B], ll_payload, encrypted)
    # ACK write (a Write Command's header is the same 3 bytes), RESPONSE indication, confirmation
    ack_p, ack_us = frames_airtime([ACK_FRAME_B, RESPONSE_FRAME_B], ll_payload, encrypted)
    ack_p += 1
    ack_us += exchange_us(L2CAP_HEADER_B + ATT_CONFIRM_B, encrypted)
    sn_bytes = 0.0
    sn_p = 0.0
    sn_us = 0.0
    if snippets_per_h > 0:
        per = round(snippet_samples_per_h / snippets_per_h)
        values = snippet_values(max(1, per), mtu)
        p, us = frames_airtime(values, ll_payload, encrypted)
        sn_bytes = snippets_per_h * sum(values)
        sn_p = snippets_per_h * (p + ack_p)
        sn_us = snippets_per_h * (us + ack_us)
    total_bytes = (
        events_per_h * (EVENT_FRAME_B + ACK_FRAME_B + RESPONSE_FRAME_B)
        + summaries_per_h * SUMMARY_FRAME_B
        + sn_bytes
        + snippets_per_h * (ACK_FRAME_B + RESPONSE_FRAME_B)
    )
    packets = events_per_h * (ev_p + ack_p) + summaries_per_h * su_p + sn_p
    radio = events_per_h * (ev_us + ack_us) + summaries_per_h * su_us + sn_us
    idle_events = round(3600 / interval_s)
    return Airtime(
        bytes=round(total_bytes),
        packets=round(packets),
        radio_us=radio,
        idle_events=idle_events,
        idle_us=idle_events * idle_event_us(),
    )
