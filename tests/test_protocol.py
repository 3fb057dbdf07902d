"""Protocol files: the shipped default equals the embedded one, and every mistake names file and field."""

from pathlib import Path

import pytest

from albench.errors import ProtocolError
from albench.run.protocol import BUNDLED_PROTOCOLS, DEFAULT_CONFIG, Protocol, load_protocol_file
from albench.run.spec import resolve_run

BENCHMARKS = BUNDLED_PROTOCOLS


def test_default_protocol_file_matches_the_embedded_default(registry):
    from_file = load_protocol_file(BENCHMARKS / "default.toml")
    assert from_file.protocol == DEFAULT_CONFIG.protocol
    assert from_file.seeds == DEFAULT_CONFIG.seeds
    for strategy in ("oreal", "random"):
        assert (
            resolve_run(registry, from_file, strategy, 0).run_id
            == resolve_run(registry, DEFAULT_CONFIG, strategy, 0).run_id
        )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text)
    return path


def test_unknown_section_is_named_with_a_suggestion(tmp_path):
    path = _write(tmp_path, "[protocl]\nbudget = 3\n")
    with pytest.raises(ProtocolError, match=rf"{path}: unknown section 'protocl'\. Did you mean 'protocol'\?"):
        load_protocol_file(path)


def test_unknown_protocol_field_is_named(tmp_path):
    path = _write(tmp_path, "[protocol]\nbudgett = 3\n")
    with pytest.raises(
        ProtocolError, match=rf"{path}: \[protocol\] has no parameter 'budgett'\. Did you mean 'budget'\?"
    ):
        load_protocol_file(path)


def test_ill_typed_protocol_field_is_named(tmp_path):
    path = _write(tmp_path, '[protocol]\nrounds = "six"\n')
    with pytest.raises(ProtocolError, match=r"\[protocol\]: parameter 'rounds' must be int, got 'six'"):
        load_protocol_file(path)


def test_out_of_range_protocol_field_is_named(tmp_path):
    path = _write(tmp_path, "[protocol]\nbudget = 0\n")
    with pytest.raises(ProtocolError, match=r"budget must be at least 1, got 0"):
        load_protocol_file(path)


def test_bad_seeds(tmp_path):
    path = _write(tmp_path, 'seeds = ["zero"]\n')
    with pytest.raises(ProtocolError, match=r"seeds must be a non-empty list of integers"):
        load_protocol_file(path)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ProtocolError, match=r"protocol file .*nope\.toml does not exist"):
        load_protocol_file(tmp_path / "nope.toml")
    with pytest.raises(ProtocolError, match=r"is not valid TOML"):
        load_protocol_file(_write(tmp_path, "[protocol\n"))


def test_component_parameters_of_another_component_are_not_inherited(tmp_path):
    config = load_protocol_file(_write(tmp_path, '[dataset]\nname = "mine"\nsize = 3\n'))
    assert config.dataset.name == "mine" and dict(config.dataset.params) == {"size": 3}


def test_protocol_replace_checks_values():
    assert Protocol().replace(rounds=2).rounds == 2
    with pytest.raises(Exception, match="ema_decay must be in"):
        Protocol().replace(ema_decay=1.5)


def test_a_bundled_protocol_loads_by_name():
    assert load_protocol_file("voc") == load_protocol_file(BUNDLED_PROTOCOLS / "voc.toml")
    assert load_protocol_file("voc").source.endswith("voc.toml")


def test_an_unknown_protocol_name_lists_the_bundled_ones():
    with pytest.raises(
        ProtocolError,
        match=r"protocol 'vox' is neither a file nor a bundled protocol\. Did you mean "
        r"'voc'\? Bundled: cityscapes, default, endovis, monarch, voc",
    ):
        load_protocol_file("vox")


def test_a_missing_protocol_path_is_named(tmp_path):
    with pytest.raises(ProtocolError, match=r"protocol file .*nothere\.toml does not exist"):
        load_protocol_file(tmp_path / "nothere.toml")
