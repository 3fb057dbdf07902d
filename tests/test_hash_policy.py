"""The run-id / protocol-hash policy (README: "What a run id hashes").

Every field recorded since the first results is hashed as before (so no existing run id changes), except:
a field added later with :func:`albench.params.added` while it holds its default, and ``threads`` on a run
that does not execute on the CPU.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
from conftest import TINY_CONFIG

from albench.components import RUN_KINDS
from albench.errors import AlbenchError
from albench.params import added, identity_params, params_to_dict
from albench.results.runs import load_runs
from albench.run.protocol import Protocol
from albench.run.runner import execute_run
from albench.run.spec import RunSpec, canonical_hash, resolve_run

# The protocol fields added since the policy (each declared with ``added``); the formula before the policy
# never saw them.
ADDED_SINCE = {"class_weights", "precision", "channels_last"}


def _protocol_before(protocol: Protocol) -> dict:
    fields = {f.name: f for f in dataclasses.fields(protocol)}
    assert all("added" in fields[name].metadata for name in ADDED_SINCE)
    assert all(getattr(protocol, name) == fields[name].default for name in ADDED_SINCE)
    return {k: v for k, v in dataclasses.asdict(protocol).items() if k not in ADDED_SINCE}


def _id_before_the_policy(spec: RunSpec) -> str:
    """The run id as albench computed it before this policy: every field of every part, always."""
    return canonical_hash(
        {
            **{kind: spec.component(kind).canonical() for kind in RUN_KINDS},
            "seed": spec.seed,
            "protocol": _protocol_before(spec.protocol),
        }
    )


def _protocol_hash_before_the_policy(spec: RunSpec) -> str:
    return canonical_hash(
        {
            "dataset": spec.dataset.canonical(),
            "superpixels": spec.superpixels.canonical(),
            "protocol": _protocol_before(spec.protocol),
        }
    )


@dataclass(frozen=True)
class ProtocolWithANewField(Protocol):
    """Protocol as a later albench might have it: one more field, whose default changes nothing."""

    label_noise: float = added(0.0, since="0.2")


@pytest.mark.parametrize("strategy", ["random", "oreal", "oreal(aggregation=mean)"])
def test_cpu_run_ids_and_protocol_hashes_are_what_they_were(registry, strategy):
    spec = resolve_run(registry, TINY_CONFIG, strategy, 3)
    assert spec.run_id == _id_before_the_policy(spec)
    assert spec.protocol_hash == _protocol_hash_before_the_policy(spec)


def test_a_new_protocol_field_at_its_default_keeps_run_ids(registry):
    before = resolve_run(registry, TINY_CONFIG, "oreal", 0)
    after = dataclasses.replace(before, protocol=ProtocolWithANewField(**dataclasses.asdict(before.protocol)))
    assert (after.run_id, after.protocol_hash) == (before.run_id, before.protocol_hash)
    changed = dataclasses.replace(after, protocol=dataclasses.replace(after.protocol, label_noise=0.1))
    assert changed.run_id != before.run_id and changed.protocol_hash != before.protocol_hash


def test_results_from_before_a_new_field_group_with_results_after_it(registry, options):
    """Seed 0 ran before the field existed, seed 1 after: one protocol, one leaderboard column, and the
    old run is found (skipped) when the new version asks for it."""
    old = resolve_run(registry, TINY_CONFIG, "random", 0)
    assert execute_run(old, registry, options).status == "completed"
    new_protocol = ProtocolWithANewField(**dataclasses.asdict(TINY_CONFIG.protocol))
    new_config = dataclasses.replace(TINY_CONFIG, protocol=new_protocol)
    assert execute_run(resolve_run(registry, new_config, "random", 0), registry, options).status == "skipped"
    assert execute_run(resolve_run(registry, new_config, "random", 1), registry, options).status == "completed"
    runs = load_runs(options.results_dir).runs
    assert sorted(run.seed for run in runs) == [0, 1]
    assert len({run.protocol_hash for run in runs}) == 1


@dataclass(frozen=True)
class ParamsV1:
    aggregation: str = "max"


@dataclass(frozen=True)
class ParamsV2:
    aggregation: str = "max"
    temperature: float = added(1.0, since="0.2")


def test_a_new_component_parameter_at_its_default_is_not_hashed():
    assert identity_params(ParamsV2()) == params_to_dict(ParamsV1()) == {"aggregation": "max"}
    assert identity_params(ParamsV2(temperature=2.0)) == {"aggregation": "max", "temperature": 2.0}
    assert params_to_dict(ParamsV2()) == {"aggregation": "max", "temperature": 1.0}  # still recorded in full


def test_component_spec_leaves_neutral_parameters_out_of_the_run_id(registry):
    spec = resolve_run(registry, TINY_CONFIG, "oreal", 0)
    widened = dataclasses.replace(
        spec,
        strategy=dataclasses.replace(
            spec.strategy, params={**spec.strategy.params, "temperature": 1.0}, neutral=("temperature",)
        ),
    )
    assert widened.run_id == spec.run_id
    set_away = dataclasses.replace(
        widened,
        strategy=dataclasses.replace(widened.strategy, params={**spec.strategy.params, "temperature": 2.0}, neutral=()),
    )
    assert set_away.run_id != spec.run_id


def test_cpu_threads_do_not_split_gpu_runs_but_do_split_cpu_runs(registry):
    spec = resolve_run(registry, TINY_CONFIG, "oreal", 0)

    def variant(device: str, threads: int) -> RunSpec:
        return dataclasses.replace(spec, device=device, protocol=dataclasses.replace(spec.protocol, threads=threads))

    assert variant("cuda", 2).run_id == variant("cuda", 8).run_id
    assert variant("cuda", 2).protocol_hash == variant("cuda", 8).protocol_hash
    assert variant("cpu", 2).run_id != variant("cpu", 8).run_id
    # a GPU run computes other numbers than a CPU run: another run, another column
    assert variant("cuda", 2).run_id != variant("cpu", 2).run_id
    assert variant("cuda", 2).protocol_hash != variant("cpu", 2).protocol_hash


def test_a_run_refuses_a_device_of_another_type_than_it_was_resolved_for(registry, options):
    spec = dataclasses.replace(resolve_run(registry, TINY_CONFIG, "random", 0), device="cuda")
    with pytest.raises(AlbenchError, match="resolved for device type 'cuda' but was started on 'cpu'"):
        execute_run(spec, registry, options)
