from pathlib import Path

from modelyard.contracts.generate import GENERATED, render

PROTO = Path(__file__).resolve().parents[3] / "proto"


def test_proto_matches_the_contracts_code() -> None:
    """proto/ is generated: when this fails, run `make contracts` and commit the result."""
    expected = render()
    on_disk = {str(p.relative_to(PROTO)): p.read_text() for p in PROTO.rglob("*.json")}
    assert set(on_disk) == set(expected), "files in proto/ differ from what `make contracts` writes"
    stale = [name for name, text in expected.items() if on_disk[name] != text]
    assert not stale, f"stale in proto/: {stale} (run `make contracts`)"


def test_every_generated_file_says_it_is_generated() -> None:
    assert all(GENERATED in text for text in render().values())
