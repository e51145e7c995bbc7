"""AIST++ sequence names: ``g{GENRE}_s{SITUATION}_c{CAMERA}_d{DANCER}_m{GENRE}{D}_ch{CHOREO}``.

Example: ``gBR_sBM_cAll_d04_mBR0_ch01`` is Break, basic dance, all cameras, dancer 4, music mBR0
(tempo digit 0 → 80 BPM), choreography 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from a2a.errors import DatasetError

GENRES: dict[str, str] = {
    "BR": "Break",
    "PO": "Pop",
    "LO": "Lock",
    "MH": "Middle Hip-hop",
    "LH": "LA-style Hip-hop",
    "HO": "House",
    "WA": "Waack",
    "KR": "Krump",
    "JS": "Street Jazz",
    "JB": "Ballet Jazz",
}

_NAME = re.compile(
    r"^g(?P<genre>[A-Z]{2})_s(?P<situation>[A-Z]{2})_c(?P<camera>All|\d{2})_d(?P<dancer>\d{2})"
    r"_m(?P<music_genre>[A-Z]{2})(?P<tempo_digit>\d)_ch(?P<choreo>\d{2})$"
)
_MUSIC = re.compile(r"^m(?P<genre>[A-Z]{2})(?P<digit>\d)$")
_SLICE_SUFFIX = re.compile(r"_slice\d+$")


def music_tempo(music_id: str) -> float | None:
    """AIST++ tempo rule: BPM = 80 + 10·d, House (mHO) 110 + 5·d; ``None`` if not an AIST++ music id."""
    m = _MUSIC.match(music_id)
    if m is None or m["genre"] not in GENRES or int(m["digit"]) > 5:
        return None
    d = int(m["digit"])
    return float(110 + 5 * d) if m["genre"] == "HO" else float(80 + 10 * d)


@dataclass(frozen=True)
class SequenceName:
    """The fields of an AIST++ sequence name."""

    name: str
    genre: str  # two-letter code, e.g. "BR"
    situation: str  # "BM" basic or "FM" advanced/free
    camera: str  # "All" in sequence names
    dancer: int
    music: str  # e.g. "mBR0"
    choreography: int

    @property
    def genre_name(self) -> str:
        return GENRES[self.genre]

    @property
    def tempo(self) -> float:
        """Music tempo in BPM from the AIST++ rule."""
        tempo = music_tempo(self.music)
        assert tempo is not None  # parse_sequence_name only accepts valid music ids
        return tempo

    def __str__(self) -> str:
        return self.name


def parse_sequence_name(name: str) -> SequenceName:
    """Split an AIST++ sequence name into its fields (clear error for anything else)."""
    m = _NAME.match(name)
    if m is None:
        raise DatasetError(
            f"{name!r} is not an AIST++ sequence name (expected e.g. 'gBR_sBM_cAll_d04_mBR0_ch01')"
        )
    if m["genre"] not in GENRES or m["music_genre"] not in GENRES or int(m["tempo_digit"]) > 5:
        raise DatasetError(f"{name!r}: unknown genre or music id (genres: {', '.join(GENRES)})")
    return SequenceName(
        name=name,
        genre=m["genre"],
        situation=m["situation"],
        camera=m["camera"],
        dancer=int(m["dancer"]),
        music=f"m{m['music_genre']}{m['tempo_digit']}",
        choreography=int(m["choreo"]),
    )


def format_sequence_name(
    genre: str, dancer: int, tempo_digit: int, choreography: int, situation: str = "BM"
) -> str:
    """Build an AIST++ sequence name; the music genre equals the dance genre (as in AIST++)."""
    if genre not in GENRES:
        raise DatasetError(f"unknown genre {genre!r} (known: {', '.join(GENRES)})")
    if not 0 <= tempo_digit <= 5:
        raise DatasetError(f"tempo digit must be 0..5, got {tempo_digit}")
    return f"g{genre}_s{situation}_cAll_d{dancer:02d}_m{genre}{tempo_digit}_ch{choreography:02d}"


def tempo_from_name(name: str) -> float | None:
    """AIST++ tempo (BPM) from a file name, or ``None`` when the name carries no AIST++ music id.

    Accepts a sequence name (``gBR_sBM_cAll_d04_mBR0_ch01``), an EDGE slice name (``…_ch01_slice12``), a bare
    music id (``mBR0``, the AIST++ music file names) or any name whose 5th ``_`` field is a music id (EDGE's
    ``_get_tempo`` rule). A path is reduced to its stem.
    """
    stem = _SLICE_SUFFIX.sub("", Path(name).stem)
    try:
        return parse_sequence_name(stem).tempo
    except DatasetError:
        pass
    fields = stem.split("_")
    if len(fields) > 4 and (tempo := music_tempo(fields[4])) is not None:
        return tempo
    return music_tempo(stem)
