"""MIT-BIH beat symbols grouped into the five ANSI/AAMI EC57 beat classes.

EC57 (and de Chazal et al. 2004, whose DS1/DS2 split the beat classifier follows) groups beats by
origin, because that is what a classifier can tell from one lead:
- N, beats of sinus-node origin conducted normally or with a bundle branch block:
  N normal, L left and R right bundle branch block, e atrial escape, j nodal (junctional) escape,
  B bundle branch block (unspecified).
- S, supraventricular ectopic beats: A atrial premature, a aberrated atrial premature,
  J nodal (junctional) premature, S supraventricular premature, n supraventricular escape.
- V, ventricular ectopic beats: V premature ventricular contraction, E ventricular escape,
  r R-on-T premature ventricular contraction.
- F, fusion of ventricular and normal: F.
- Q, unknown: / paced, f fusion of paced and normal, Q unclassifiable, ? beat not classified.

B, n, r and ? are not in the de Chazal table; they follow EC57's grouping and do not occur in DS1.
"""

from __future__ import annotations

from types import MappingProxyType

AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")

_GROUPS = {
    "N": "NLRejB",
    "S": "AaJSn",
    "V": "VEr",
    "F": "F",
    "Q": "/fQ?",
}

AAMI_OF_SYMBOL = MappingProxyType({s: cls for cls, symbols in _GROUPS.items() for s in symbols})


def aami_class(symbol: str) -> str:
    """The AAMI class of a MIT-BIH beat symbol; KeyError for a non-beat annotation ("+", "~", ...)."""
    try:
        return AAMI_OF_SYMBOL[symbol]
    except KeyError:
        raise KeyError(f"{symbol!r} is not a beat annotation") from None


def aami_index(symbol: str) -> int:
    """Position of the symbol's class in AAMI_CLASSES (N=0, S=1, V=2, F=3, Q=4)."""
    return AAMI_CLASSES.index(aami_class(symbol))
