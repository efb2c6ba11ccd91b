"""kill_workloads on MIG GPUs of the simulated `dgx-h100-mig` node (DESIGN.md: GPU 0 = 2 x 3g.40gb,
GPU instances 1 and 2; GPU 1 = GIs 1, 5 and 13; GPUs 2-7 whole). An alert with `GPU_I_ID` kills only
what NVML reports on that instance of that GPU; one without it, every process on the GPU (the die and
its temperature are shared by the instances): actions/README.md, docs/contracts.md."""

from __future__ import annotations

from typing import Any

from tests.actions.helpers import (
    CONTRACT_POLICY,
    alert,
    alive,
    exit_code,
    notification,
    policy_with,
    wait_for,
)

# Only the kill step: the H100s have no fans, and the power-cap fallback is not what is under test.
KILL_ONLY = policy_with(actions={**CONTRACT_POLICY["actions"],
                                 "kill_workloads": [{"action": "kill_workloads", "grace_seconds": 1}]})


def uuid_of(sim: Any, index: int) -> str:
    return sim.status()["gpus"][index]["uuid"]


def kill_alert(sim: Any, gpu: int, fingerprint: str, **labels: str) -> dict[str, Any]:
    return alert(uuid=uuid_of(sim, gpu), action="kill_workloads", fingerprint=fingerprint,
                 alertname="GPUTemperatureCritical", gpu=str(gpu), **labels)


def test_gpu_i_id_kills_only_that_instance(sim_node, start_receiver) -> None:
    sim = sim_node("dgx-h100-mig")
    target = sim.start_workload(0, watts=100.0, gpu_instance=1)
    neighbour = sim.start_workload(0, watts=100.0, gpu_instance=2)   # same GPU, other instance
    same_gi_elsewhere = sim.start_workload(1, watts=100.0, gpu_instance=1)  # GI 1 of another GPU
    receiver = start_receiver(policy=KILL_ONLY, env=sim.env)

    firing = kill_alert(sim, 0, "a1", GPU_I_ID="1", GPU_I_PROFILE="3g.40gb")
    assert receiver.post(notification(firing)).status_code == 200
    done = receiver.wait_decisions(action="kill_workloads", result="killed")[0]
    assert (done["terminated"], done["killed"], done["survivors"]) == ([target.pid], [], [])
    wait_for(lambda: exit_code(sim, target.pid) is not None, what="the instance's workload exit record")
    assert exit_code(sim, target.pid) == -15
    assert alive(neighbour.pid) and alive(same_gi_elsewhere.pid)
    assert [p["pid"] for p in sim.status()["gpus"][0]["processes"]] == [neighbour.pid]


def test_without_gpu_i_id_every_instance_of_the_gpu_is_killed(sim_node, start_receiver) -> None:
    sim = sim_node("dgx-h100-mig")
    on_gpu1 = sorted(sim.start_workload(1, watts=100.0, gpu_instance=gi).pid for gi in (1, 5, 13))
    on_gpu0 = sim.start_workload(0, watts=100.0, gpu_instance=1)
    receiver = start_receiver(policy=KILL_ONLY, env=sim.env)

    assert receiver.post(notification(kill_alert(sim, 1, "b1"))).status_code == 200
    done = receiver.wait_decisions(action="kill_workloads", result="killed")[0]
    assert (sorted(done["terminated"]), done["killed"], done["survivors"]) == (on_gpu1, [], [])
    wait_for(lambda: all(exit_code(sim, pid) is not None for pid in on_gpu1),
             what="exit records of GPU 1's workloads")
    assert [exit_code(sim, pid) for pid in on_gpu1] == [-15, -15, -15]
    assert alive(on_gpu0.pid)


def test_an_instance_the_gpu_does_not_have_kills_nothing(sim_node, start_receiver) -> None:
    sim = sim_node("dgx-h100-mig")
    mig = sim.start_workload(0, watts=100.0, gpu_instance=2)
    whole = sim.start_workload(2, watts=100.0)
    receiver = start_receiver(policy=KILL_ONLY, env=sim.env)

    # GI 5 exists on GPU 1, not on GPU 0; GPU 2 is not in MIG mode at all.
    for gpu, fingerprint in ((0, "c1"), (2, "c2")):
        assert receiver.post(notification(kill_alert(sim, gpu, fingerprint, GPU_I_ID="5"))).status_code == 200
    refused = receiver.wait_decisions(2, action="kill_workloads", result="unknown_instance")
    assert sorted((d["gpu"], d["gpu_instance"]) for d in refused) == [("0", "5"), ("2", "5")]
    assert receiver.decisions(action="kill_workloads", result="killed") == []
    assert alive(mig.pid) and alive(whole.pid)
