"""ccevariants._io.Background: items handled in order on a thread; a failure reaches the caller."""

from __future__ import annotations

import threading

import pytest

from ccevariants._io import Background


def test_items_are_handled_in_order_on_another_thread():
    seen, threads = [], set()

    def fn(item):
        seen.append(item)
        threads.add(threading.get_ident())

    bg = Background(fn)
    for i in range(50):
        bg.put(i)
    bg.finish()
    assert seen == list(range(50)) and threads and threading.get_ident() not in threads


def test_a_failure_is_raised_by_the_next_put_or_by_finish_and_later_items_are_dropped():
    seen = []
    gate = threading.Event()

    def fn(item):
        if item == 2:
            raise OSError("disk full")
        seen.append(item)
        if item == 3:
            gate.set()

    bg = Background(fn, depth=1)
    for i in range(3):
        bg.put(i)
    with pytest.raises(OSError, match="disk full"):
        bg.finish()
    assert seen == [0, 1]  # nothing after the failure
    bg2 = Background(fn)
    bg2.put(2)
    while bg2.error is None:
        threading.Event().wait(0.01)
    with pytest.raises(OSError, match="disk full"):
        bg2.put(3)
    bg2.close()  # the caller is already failing: close() does not raise again
    assert not gate.is_set()
