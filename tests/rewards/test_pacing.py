"""The duty cycle of long jobs (``rewards.pacing``): when a pause point pauses, and for how long."""

from __future__ import annotations

from pytest import approx

from rewards.pacing import Pacer, current, paced, pacing, pause_point


class Clock:
    """A fake monotonic clock that sleeping advances."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _pacer(clock: Clock, busy: bool, ratio: float = 1.0, **kw: float) -> Pacer:
    return Pacer(ratio, lambda: busy, clock=clock, sleep=clock.sleep, **kw)


def test_with_traffic_a_chunk_is_followed_by_ratio_times_its_duration() -> None:
    clock = Clock()
    pacer = _pacer(clock, busy=True, ratio=0.5)
    clock.now += 0.4  # a chunk of 0.4 s
    pacer.point()
    assert clock.slept == approx([0.2])
    clock.now += 0.3  # the next chunk is measured from the end of the pause
    pacer.point()
    assert clock.slept == approx([0.2, 0.15])
    assert (pacer.pauses, round(pacer.paused, 6)) == (2, 0.35)


def test_without_traffic_there_is_no_pause() -> None:
    clock = Clock()
    asked: list[int] = []
    pacer = Pacer(1.0, lambda: asked.append(1) is not None, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        clock.now += 0.2
        pacer.point()
    assert clock.slept == [] and len(asked) == 5 and pacer.pauses == 0


def test_points_closer_than_a_slice_do_not_ask() -> None:
    clock = Clock()
    asked: list[int] = []

    def busy() -> bool:
        asked.append(1)
        return True

    pacer = Pacer(1.0, busy, slice_seconds=0.1, clock=clock, sleep=clock.sleep)
    for _ in range(9):  # a point per row: 9 rows of 10 ms
        clock.now += 0.01
        pacer.point()
    assert asked == [] and clock.slept == []
    clock.now += 0.02
    pacer.point()  # 0.11 s since the start: one decision for the whole run of rows
    assert len(asked) == 1 and clock.slept == approx([0.11])


def test_ratio_zero_never_asks_nor_pauses() -> None:
    clock = Clock()
    pacer = Pacer(0.0, lambda: (_ for _ in ()).throw(AssertionError("asked")), clock=clock, sleep=clock.sleep)
    clock.now += 10
    pacer.point()
    assert clock.slept == []


def test_a_long_chunk_pauses_at_most_max_pause() -> None:
    clock = Clock()
    pacer = _pacer(clock, busy=True, ratio=2.0, max_pause=1.5)
    clock.now += 3.0
    pacer.point()
    assert clock.slept == approx([1.5])


def test_restart_forgets_time_that_was_not_work() -> None:
    clock = Clock()
    pacer = _pacer(clock, busy=True)
    clock.now += 5.0  # waiting for a lock, say
    pacer.restart()
    clock.now += 0.2
    pacer.point()
    assert clock.slept == approx([0.2])


def test_pause_points_use_the_pacer_of_the_block_only() -> None:
    clock = Clock()
    pacer = _pacer(clock, busy=True)
    clock.now += 1.0
    pause_point()  # outside any job: nothing
    assert clock.slept == [] and current() is None
    with pacing(pacer) as active:
        assert active is pacer and current() is pacer
        pause_point()
    assert clock.slept == approx([1.0]) and current() is None
    with pacing(None):
        clock.now += 1.0
        pause_point()
    assert clock.slept == approx([1.0])


def test_paced_passes_rows_through_with_a_point_every_n() -> None:
    clock = Clock()
    points: list[int] = []

    def busy() -> bool:
        points.append(1)
        return False

    pacer = Pacer(1.0, busy, slice_seconds=0.0, clock=clock, sleep=clock.sleep)
    with pacing(pacer):
        rows = []
        for row in paced(range(10), every=3):
            clock.now += 0.01
            rows.append(row)
    assert rows == list(range(10)) and len(points) == 3


def test_due_tells_without_pausing_and_a_no_is_a_decision() -> None:
    clock = Clock()
    traffic = [False]
    asked: list[int] = []

    def busy() -> bool:
        asked.append(1)
        return traffic[0]

    pacer = Pacer(1.0, busy, slice_seconds=0.1, clock=clock, sleep=clock.sleep)
    clock.now += 0.05
    assert not pacer.due() and asked == []  # within a slice: no question asked
    clock.now += 0.15
    assert not pacer.due() and len(asked) == 1  # no traffic: no pause, and the next slice starts here
    traffic[0] = True
    clock.now += 0.05
    assert not pacer.due() and len(asked) == 1
    clock.now += 0.25
    assert pacer.due() and clock.slept == []  # due, but nothing slept
    pacer.point()
    assert clock.slept == approx([0.3])  # the pause covers the work since the last decision


def test_points_inside_held_only_measure() -> None:
    from rewards.pacing import held, pause_due

    clock = Clock()
    pacer = _pacer(clock, busy=True)
    with pacing(pacer):
        with held():
            clock.now += 0.4
            pause_point()  # work in flight: no pause here
            assert clock.slept == [] and pause_due()
            with held():  # nested: still held
                pause_point()
            pause_point()
            assert clock.slept == []
        pause_point()  # let go: one pause for all the work, the held part included
        assert clock.slept == approx([0.4])
    assert not pause_due()  # outside a job
    with held():  # outside a job: nothing to hold
        pause_point()
    assert clock.slept == approx([0.4])
