"""The package's upstream files (falcotui/falco/upstream) are byte-identical to ../shared/data, so the
simulated Falco and the manifest checks run on the real artifacts even without ../shared."""

from __future__ import annotations

from pathlib import Path

from falcotui.falco import image

PACKAGE = Path(image.__file__).parent / "upstream"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_image_files_are_byte_identical(shared_data: Path) -> None:
    shared = _files(shared_data / "falco_image")
    assert shared, "no image files in ../shared/data/falco_image"
    assert _files(PACKAGE / "falco_image") == shared


def test_default_rules_are_byte_identical(shared_data: Path) -> None:
    assert (PACKAGE / "falco_rules.yaml").read_bytes() == (shared_data / "falco_rules.yaml").read_bytes()


def test_every_release_the_simulator_maps_to_has_its_files() -> None:
    for version in ((0, 42), (0, 43), (0, 44), (0, 45), (0, 46)):
        release = image.image_release(version)
        assert image.IMAGE_CONFIG_PATH in image.image_config_files(release)
        assert image.config_schema(release)["$ref"] == "#/definitions/FalcoConfig"
    assert image.image_release((0, 45)) == "main-2026-07-31"
    assert image.image_release((0, 44)) == "0.44.1"
    assert image.image_release((0, 43)) == "0.43.1"
