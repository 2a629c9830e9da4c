"""proxysite.memory: the allocator's mmap threshold, set unless the operator set one."""

from __future__ import annotations

from proxysite import memory


def test_it_fixes_the_threshold_on_glibc(monkeypatch):
    monkeypatch.delenv(memory.OPERATOR_VARIABLE, raising=False)
    calls = []
    real = memory.ctypes.CDLL

    class Recording:
        def __init__(self, name):
            self._lib = real(name)

        def mallopt(self, param, value):
            calls.append((param, value))
            return self._lib.mallopt(param, value)

    monkeypatch.setattr(memory.ctypes, "CDLL", Recording)

    assert memory.fix_mmap_threshold() is True
    assert calls == [(memory.M_MMAP_THRESHOLD, memory.MMAP_THRESHOLD_BYTES)]


def test_it_keeps_the_operators_own_setting(monkeypatch):
    monkeypatch.setenv(memory.OPERATOR_VARIABLE, "65536")
    monkeypatch.setattr(memory.ctypes, "CDLL", lambda name: (_ for _ in ()).throw(AssertionError))

    assert memory.fix_mmap_threshold() is False


def test_it_does_nothing_without_a_c_library_that_has_mallopt(monkeypatch):
    monkeypatch.delenv(memory.OPERATOR_VARIABLE, raising=False)
    monkeypatch.setattr(memory.ctypes.util, "find_library", lambda name: None)

    assert memory.fix_mmap_threshold() is False
