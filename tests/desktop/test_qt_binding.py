"""The Qt binding must not drop references to None.

PySide6 6.12.0 returns ``None`` from every void method without taking a reference.
On Python 3.11 (where None is not immortal) each call lowers None's reference
count by one, and the app aborts with "Fatal Python error: none_dealloc" once it
reaches zero: about 100 s of playback (the playhead repaints cost ~600 references
a second). PySide6 6.11.3 does not have the bug; on Python >= 3.12 None is immortal.
"""

import sys

from PySide6.QtCore import QRectF


def test_void_calls_keep_none_alive():
    rect = QRectF()
    before = sys.getrefcount(None)
    for _ in range(2000):
        rect.setWidth(1.0)
    lost = before - sys.getrefcount(None)
    assert lost < 100, (
        f"{lost} references to None lost in 2000 void calls: this PySide6 build will crash the app "
        "(pin PySide6-Essentials/PySide6-Addons to 6.11.3, or run on Python >= 3.12)"
    )
