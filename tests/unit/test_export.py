"""Exports of generated splits: PNG + COCO round trip, M2NIST arrays, overwrite rules."""

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from digitseg.classes import BACKGROUND, NUM_CLASSES
from digitseg.data.export import (
    ANNOTATIONS,
    COMBINED,
    IMAGES,
    INFO,
    INSTANCES,
    MANIFEST,
    MASKS,
    SEGMENTED,
    read_coco_split,
    rgb_to_gray,
    write_split,
)
from digitseg.data.spec import CanvasSpec
from digitseg.data.synth import CanvasGenerator
from tests.helpers.digits import tiny_digits

# pycocotools' Cython decoder trips numpy 2's copy-keyword deprecation; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

GRAY = CanvasSpec()
# RGB paper, warped digits allowed to overlap: occluded instances exercise the RLE masks.
COLOR = CanvasSpec(
    min_digits=3, max_digits=4, rotation=10, max_overlap=0.3, backgrounds={"paper": 1.0}
)


def generator(spec: CanvasSpec) -> CanvasGenerator:
    return CanvasGenerator(spec, {"val": tiny_digits()}, seed=3)


def read_png(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.array(image)


@pytest.mark.parametrize("spec", [GRAY, COLOR], ids=["gray", "rgb"])
def test_png_export_matches_the_generator_through_pycocotools(tmp_path, spec):
    gen = generator(spec)
    write_split(gen, "val", 7, tmp_path, batch_size=3, progress=False, name="tiny")
    expected = gen.render("val", range(7))
    coco = COCO(str(tmp_path / ANNOTATIONS))

    assert sorted(coco.getImgIds()) == list(range(7))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == [str(d) for d in range(10)]
    assert sum(len(labels) for labels in expected.labels) == len(coco.anns) > 7
    for i, canvas in enumerate(expected):
        info = coco.imgs[i]
        assert (info["height"], info["width"], info["style"]) == (
            spec.height,
            spec.width,
            canvas.style,
        )
        np.testing.assert_array_equal(read_png(tmp_path / info["file_name"]), canvas.image)
        np.testing.assert_array_equal(read_png(tmp_path / MASKS / f"{i:06d}.png"), canvas.semantic)
        with Image.open(tmp_path / INSTANCES / f"{i:06d}.png") as instances:
            assert instances.mode == "I;16"
            np.testing.assert_array_equal(np.array(instances), canvas.instances)
        annotations = sorted(coco.imgToAnns[i], key=lambda a: a["instance_id"])
        assert [a["instance_id"] for a in annotations] == list(range(1, len(canvas.labels) + 1))
        for a, label, (x0, y0, x1, y1) in zip(
            annotations, canvas.labels, canvas.boxes, strict=True
        ):
            mask = coco.annToMask(a)
            np.testing.assert_array_equal(mask, canvas.instances == a["instance_id"])
            assert a["category_id"] == label
            assert a["bbox"] == [x0, y0, x1 - x0, y1 - y0]
            assert a["area"] == mask.sum() == mask_utils.area(a["segmentation"])
            assert a["iscrowd"] == 0


def test_annotation_ids_are_unique_and_start_at_one(tmp_path):
    # pycocotools' COCOeval uses annotation id 0 as "unmatched".
    write_split(generator(GRAY), "val", 5, tmp_path, batch_size=2, progress=False)
    ids = [a["id"] for a in json.loads((tmp_path / ANNOTATIONS).read_text())["annotations"]]
    assert ids == list(range(1, len(ids) + 1))


def test_info_block_records_preset_split_seed_count_and_spec(tmp_path):
    write_split(generator(COLOR), "val", 2, tmp_path, progress=False, name="tiny")
    info = json.loads((tmp_path / ANNOTATIONS).read_text())["info"]
    assert (info["preset"], info["split"], info["seed"], info["count"]) == ("tiny", "val", 3, 2)
    assert CanvasSpec(**info["spec"]) == COLOR
    assert info["spec"] == json.loads(json.dumps(dataclasses.asdict(COLOR)))


@pytest.mark.parametrize("spec", [GRAY, COLOR], ids=["gray", "rgb"])
def test_read_coco_split_round_trips(tmp_path, spec):
    gen = generator(spec)
    write_split(gen, "val", 6, tmp_path, batch_size=4, progress=False)
    items = list(read_coco_split(tmp_path))
    expected = gen.render("val", range(6))
    assert len(items) == 6
    for item, canvas in zip(items, expected, strict=True):
        for field in ("image", "semantic", "instances", "labels", "boxes"):
            got, want = getattr(item, field), getattr(canvas, field)
            assert got.dtype == want.dtype, field
            np.testing.assert_array_equal(got, want, err_msg=field)


def test_read_coco_split_handles_canvases_without_digits(tmp_path):
    gen = generator(CanvasSpec(min_digits=0, max_digits=1))
    write_split(gen, "val", 12, tmp_path, progress=False)
    items = list(read_coco_split(tmp_path))
    empty = [item for item in items if len(item.labels) == 0]
    assert empty, "the seed should give at least one empty canvas"
    assert all(item.boxes.shape == (0, 4) and not item.instances.any() for item in empty)


def test_m2nist_export_has_m2nist_shapes_and_one_hot_masks(tmp_path):
    gen = generator(GRAY)
    write_split(gen, "val", 5, tmp_path, fmt="m2nist", batch_size=2, progress=False)
    combined, segmented = np.load(tmp_path / COMBINED), np.load(tmp_path / SEGMENTED)
    expected = gen.render("val", range(5))

    assert combined.shape == (5, 64, 84) and combined.dtype == np.uint8
    assert segmented.shape == (5, 64, 84, NUM_CLASSES) and segmented.dtype == np.uint8
    np.testing.assert_array_equal(combined, expected.images)
    np.testing.assert_array_equal(segmented.sum(-1), 1)
    np.testing.assert_array_equal(segmented.argmax(-1), expected.semantic)
    np.testing.assert_array_equal(segmented[..., -1], expected.semantic == BACKGROUND)
    assert json.loads((tmp_path / "info.json").read_text())["count"] == 5


def test_m2nist_export_converts_rgb_to_gray_like_pil(tmp_path):
    gen = generator(COLOR)
    write_split(gen, "val", 3, tmp_path, fmt="m2nist", progress=False)
    combined = np.load(tmp_path / COMBINED)
    rgb = gen.render("val", range(3)).images
    assert combined.shape == (3, COLOR.height, COLOR.width)
    for gray, image in zip(combined, rgb, strict=True):
        np.testing.assert_array_equal(gray, np.array(Image.fromarray(image).convert("L")))


def test_rgb_to_gray_matches_pil_on_every_extreme():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (1, 4096, 3), dtype=np.uint8)
    rgb[0, :8] = [
        [0, 0, 0],
        [255, 255, 255],
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [128, 128, 128],
        [1, 1, 1],
        [254, 254, 254],
    ]
    np.testing.assert_array_equal(rgb_to_gray(rgb), np.array(Image.fromarray(rgb).convert("L")))


def test_non_empty_folder_is_refused_without_overwrite(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="overwrite=true") as error:
        write_split(generator(GRAY), "val", 2, tmp_path, progress=False)
    assert str(tmp_path) in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def files_under(folder) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("fmt", ["png", "m2nist"])
def test_manifest_lists_every_file_the_export_writes(tmp_path, fmt):
    write_split(generator(GRAY), "val", 3, tmp_path, fmt=fmt, progress=False)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["format"] == fmt
    assert set(manifest["files"]) | {MANIFEST} == files_under(tmp_path)


def test_overwrite_replaces_the_previous_export_and_keeps_other_files(tmp_path):
    gen = generator(GRAY)
    write_split(gen, "val", 6, tmp_path, progress=False)
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / IMAGES / "mine.png").write_bytes(b"a user's own file")

    write_split(gen, "val", 3, tmp_path, overwrite=True, progress=False)
    images = sorted(p.name for p in (tmp_path / IMAGES).iterdir())
    assert images == ["000000.png", "000001.png", "000002.png", "mine.png"]
    assert len(list((tmp_path / MASKS).iterdir())) == 3
    assert len(COCO(str(tmp_path / ANNOTATIONS)).imgs) == 3

    write_split(gen, "val", 2, tmp_path, fmt="m2nist", overwrite=True, progress=False)
    kept = {"notes.txt", "images/mine.png"}
    assert files_under(tmp_path) == {COMBINED, SEGMENTED, INFO, MANIFEST} | kept
    assert (tmp_path / IMAGES / "mine.png").read_bytes() == b"a user's own file"
    assert not (tmp_path / MASKS).exists() and not (tmp_path / INSTANCES).exists()


def test_overwrite_without_a_manifest_is_refused_and_deletes_nothing(tmp_path):
    (tmp_path / IMAGES).mkdir()
    (tmp_path / IMAGES / "scan.png").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match=f"no {MANIFEST}") as error:
        write_split(generator(GRAY), "val", 2, tmp_path, overwrite=True, progress=False)
    assert str(tmp_path) in str(error.value) and "out_dir" in str(error.value)
    assert files_under(tmp_path) == {"images/scan.png"}


@pytest.mark.parametrize(
    "name", ["../outside.txt", "images/../../outside.txt", "{outside}"], ids=["up", "deep", "abs"]
)
def test_overwrite_refuses_a_manifest_naming_files_outside_the_folder(tmp_path, name):
    out, outside = tmp_path / "out", tmp_path / "outside.txt"
    write_split(generator(GRAY), "val", 2, out, progress=False)
    outside.write_text("not the export's")
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"].append(name.format(outside=outside))
    (out / MANIFEST).write_text(json.dumps(manifest))

    with pytest.raises(ValueError, match="outside") as error:
        write_split(generator(GRAY), "val", 2, out, overwrite=True, progress=False)
    assert str(out / MANIFEST) in str(error.value)
    assert outside.read_text() == "not the export's"
    assert (out / IMAGES / "000000.png").is_file()


def test_overwrite_refuses_a_manifest_through_a_linked_subfolder(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "000000.png").write_bytes(b"someone else's")
    out.mkdir()
    (out / "linked").symlink_to(elsewhere, target_is_directory=True)
    (out / MANIFEST).write_text(json.dumps({"files": ["linked/000000.png"]}))

    with pytest.raises(ValueError, match="outside"):
        write_split(generator(GRAY), "val", 2, out, overwrite=True, progress=False)
    assert (elsewhere / "000000.png").read_bytes() == b"someone else's"


def test_overwrite_refuses_to_write_through_a_linked_subfolder(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    write_split(generator(GRAY), "val", 2, out, fmt="m2nist", progress=False)
    elsewhere.mkdir()
    (out / IMAGES).symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(FileExistsError, match="did not write"):
        write_split(generator(GRAY), "val", 2, out, overwrite=True, progress=False)
    assert not any(elsewhere.iterdir()) and (out / COMBINED).is_file()


@pytest.mark.parametrize("content", ["not json", "[]", '{"files": "images"}', '{"files": [1]}'])
def test_overwrite_refuses_a_manifest_it_cannot_read(tmp_path, content):
    (tmp_path / MANIFEST).write_text(content)
    with pytest.raises(ValueError, match="is not the manifest"):
        write_split(generator(GRAY), "val", 2, tmp_path, overwrite=True, progress=False)
    assert files_under(tmp_path) == {MANIFEST}


def test_overwrite_refuses_to_replace_a_file_the_earlier_export_did_not_write(tmp_path):
    gen = generator(GRAY)
    write_split(gen, "val", 2, tmp_path, fmt="m2nist", progress=False)
    (tmp_path / IMAGES).mkdir()
    (tmp_path / IMAGES / "000001.png").write_bytes(b"a user's own file")

    with pytest.raises(FileExistsError, match="did not write") as error:
        write_split(gen, "val", 2, tmp_path, overwrite=True, progress=False)
    assert str(tmp_path / IMAGES / "000001.png") in str(error.value)
    assert (tmp_path / IMAGES / "000001.png").read_bytes() == b"a user's own file"
    assert (tmp_path / COMBINED).is_file()  # nothing deleted


def test_missing_folder_is_created(tmp_path):
    out = write_split(generator(GRAY), "val", 1, tmp_path / "a" / "b", progress=False)
    assert (out / ANNOTATIONS).is_file()


@pytest.mark.parametrize(
    ("split", "count", "fmt", "error"),
    [("val", 1, "tiff", ValueError), ("test", 1, "png", KeyError), ("val", 0, "png", ValueError)],
    ids=["format", "split", "count"],
)
def test_bad_arguments_fail_before_anything_is_written(tmp_path, split, count, fmt, error):
    with pytest.raises(error):
        write_split(generator(GRAY), split, count, tmp_path / "out", fmt=fmt, progress=False)
    assert not (tmp_path / "out").exists()


def test_progress_bar_counts_canvases(tmp_path, capsys):
    write_split(generator(GRAY), "val", 5, tmp_path, batch_size=2, name="tiny")
    err = capsys.readouterr().err
    assert "tiny/val (png)" in err and "5/5" in err
