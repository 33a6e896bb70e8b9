"""Speaker turns from the diarizer's tracks, and the one clean-up applied to them. Pure: no torch, no pyannote.

pyannote builds turns frame by frame from overlapping 10 s windows. Where one window's local speaker runs a
few frames past the end of a clip, or starts a few frames early, the turn's first or last fraction of a second
goes to a third speaker: an *edge blip*, a turn of a quarter of a second that touches a real turn of another
speaker on one side and silence on the other. A word in it would open or close a one-word paragraph under the
wrong name, and a voice enrolled from that speaker would claim it. ``absorb_edge_blips`` gives such a turn to
the speaker it touches. It never removes time: the blip's span joins its neighbour's turn.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

from pipeline.types import SpeakerTurn

# Turns shorter than this can be edge blips: the longest that costs no DER on the dev set and pyannote's sample
# (docs/architecture.md, "Edge blips"; the sweep: benchmarks/README.md, "Diarization").
EDGE_BLIP_S = 0.3
# Two turns touch when one ends within this of the other's start: a frame of segmentation-3.0 is 17 ms.
TOUCH_S = 0.02


def to_turns(tracks: Iterable[tuple[float, float, str]]) -> tuple[SpeakerTurn, ...]:
    """(start_s, end_s, label) tracks -> SpeakerTurns sorted by time, ms precision, empty ones dropped."""
    turns = (SpeakerTurn(speaker=label, start_s=round(start, 3), end_s=round(end, 3))
             for start, end, label in tracks)
    return _sorted(t for t in turns if t.end_s > t.start_s)


def absorb_edge_blips(turns: Sequence[SpeakerTurn], shorter_than_s: float = EDGE_BLIP_S) -> tuple[SpeakerTurn, ...]:
    """The turns with every edge blip joined to the turn it touches, under that turn's speaker.

    An edge blip is a turn shorter than ``shorter_than_s`` that meets exactly one other turn: a longer one, of
    another speaker, touching it end to start. A short turn with silence on both sides (a lone "yes") or
    overlapped by another (a backchannel) or between two turns is left as it is."""
    out = list(turns)
    # A short turn that took a blip and was replaced finds only its own speaker's joined turn near it: no host.
    for blip in [t for t in out if _duration(t) < shorter_than_s]:
        host = _host(blip, out)
        if host is not None:
            joined = SpeakerTurn(host.speaker, min(host.start_s, blip.start_s), max(host.end_s, blip.end_s))
            out = [joined if t is host else t for t in out if t is not blip]
    return _sorted(out)


def _host(blip: SpeakerTurn, turns: Sequence[SpeakerTurn]) -> Optional[SpeakerTurn]:
    """The one turn that ``blip`` is an edge of, or None."""
    near = [t for t in turns if t is not blip
            and t.end_s >= blip.start_s - TOUCH_S and t.start_s <= blip.end_s + TOUCH_S]
    if len(near) != 1:
        return None
    other = near[0]
    touches = abs(other.end_s - blip.start_s) <= TOUCH_S or abs(other.start_s - blip.end_s) <= TOUCH_S
    if other.speaker == blip.speaker or not touches or _duration(other) <= _duration(blip):
        return None
    return other


def _duration(turn: SpeakerTurn) -> float:
    return turn.end_s - turn.start_s


def _sorted(turns: Iterable[SpeakerTurn]) -> tuple[SpeakerTurn, ...]:
    return tuple(sorted(turns, key=lambda t: (t.start_s, t.end_s, t.speaker)))
