"""ScenarioRunner: the step convention (arrivals and events at step s, before step s+1)."""

from __future__ import annotations

from helpers import req, scenario

from mini_engine.scenarios.runner import ScenarioRunner


def test_arrivals_idle_steps_and_end():
    sc = scenario([req("a", "abc", max_tokens=2), req("b", "xy", max_tokens=2, arrival=3)])
    r = ScenarioRunner(sc)
    assert [x.request_id for x in r.initial_arrived] == ["a"]
    assert r.engine.step_count == 0 and not r.is_done()
    results = []
    while not r.is_done():
        results.append(r.step())
    assert [res.step for res in results] == [1, 2, 3, 4, 5]
    # a: prefill+first token at 1, second token at 2 (finished); step 3 is idle; b arrives after 3.
    assert [[q.request_id for q in res.finished] for res in results] == [[], ["a"], [], [], ["b"]]
    assert [[q.request_id for q in res.arrived] for res in results] == [[], [], ["b"], [], []]
    assert r.engine.last_scheduler_output is not None
    assert r.steps_done == 5


def test_arrival_order_by_step_then_list_order():
    sc = scenario([req("late", 3, arrival=2), req("x", 3, arrival=1), req("y", 3, arrival=1),
                   req("first", 3)])
    r = ScenarioRunner(sc)
    assert [q.request_id for q in r.initial_arrived] == ["first"]
    res = r.step()
    assert [q.request_id for q in res.arrived] == ["x", "y"]
    assert [q.request_id for q in r.step().arrived] == ["late"]


def test_abort_event_applied_after_arrivals_at_the_same_step():
    sc = scenario([req("a", "hello", max_tokens=10), req("b", 4, arrival=2)],
                  events=[(2, "a"), (2, "b")])
    r = ScenarioRunner(sc)
    r.step()
    res = r.step()
    assert [q.request_id for q in res.arrived] == ["b"]
    assert [q.request_id for q in res.aborted] == ["a", "b"]
    assert r.engine.get_request("a").status.name == "FINISHED_ABORTED"
    assert r.engine.get_request("b").status.name == "FINISHED_ABORTED"
    assert r.is_done() and r.steps_done == 2


def test_abort_at_step_zero_and_never_fitting_request():
    sc = scenario([req("a", 5), req("huge", 100)], events=[(0, "a")],
                  block_size=4, num_gpu_blocks=5, max_num_batched_tokens=16, max_num_seqs=2)
    r = ScenarioRunner(sc)
    assert [q.request_id for q in r.initial_aborted] == ["a"]
    assert r.engine.get_request("huge").status.name == "FINISHED_IGNORED"
    assert r.is_done()
    assert r.run() == 0


def test_run_until():
    sc = scenario([req("a", "hello", max_tokens=4)])
    r = ScenarioRunner(sc)
    assert r.run(until=2) == 2
    assert r.engine.get_request("a").num_tokens == 7
    assert r.run() == 4
