"""Label Studio: items out as JSON tasks (blind, images inline or as files), a labelling config per kind, and a
Label Studio JSON export back in as judgements (round trip through the store and ``mella rate-report``)."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from corekit import IMAGES, KEYS, SYSTEMS, jpeg, make_run

from mella.cli import cli
from mella.errors import InputError
from mella.rate.labelstudio import export_tasks, import_export, label_config
from mella.rate.scales import QUESTIONS
from mella.rate.store import RatingStore, default_path
from mella.rate.tasks import image_folder, know_items, ling_items, pairwise_items


def study(run):
    items = (pairwise_items(run / SYSTEMS[0], run / SYSTEMS[1], SYSTEMS, "ru", n=None, seed=4)
             + know_items(run / "build", "ru", n=2, seed=0) + ling_items(run / "build", "ru", n=1, seed=0))
    with RatingStore(default_path(run)) as store:
        store.add_items(items)
    return items


@pytest.fixture
def run(tmp_path):
    run = make_run(tmp_path)
    study(run)
    return run


def test_export_writes_blind_tasks_with_inline_images(run, tmp_path):
    target = tmp_path / "ls" / "tasks.json"
    with RatingStore(default_path(run)) as store:
        assert export_tasks(store, target, images=image_folder(run)) == 6
        items = store.items()
    tasks = json.loads(target.read_text(encoding="utf-8"))
    assert [t["id"] for t in tasks] == [1, 2, 3, 4, 5, 6]
    assert [t["data"]["mella_item_id"] for t in tasks] == [i.item_id for i in items]
    blob = target.read_text(encoding="utf-8")
    assert not any(name in blob for name in SYSTEMS)  # blind in Label Studio too
    for task, item in zip(tasks, items, strict=True):
        data = task["data"]
        assert set(data) == {"mella_item_id", "kind", "lang", "image", "prompt", "text", "source_text",
                             "output_a", "output_b"}
        head, _, payload = data["image"].partition(",")
        assert head == "data:image/jpeg;base64"
        assert base64.b64decode(payload) == jpeg(IMAGES[KEYS.index(item.image_key)])
        if item.kind == "pairwise":
            assert (data["output_a"], data["output_b"]) == item.outputs
        assert data["text"] == item.text and data["source_text"] == item.source_text


def test_export_with_an_image_prefix_writes_the_images_beside_the_file(run, tmp_path):
    target = tmp_path / "tasks.json"
    with RatingStore(default_path(run)) as store:
        assert export_tasks(store, target, images=image_folder(run), kind="know",
                            image_prefix="/data/local-files/?d=") == 2
    tasks = json.loads(target.read_text(encoding="utf-8"))
    for task in tasks:
        image = task["data"]["image"]
        assert image.startswith("/data/local-files/?d=tasks_images/") and image.endswith(".jpg")
        key = image.rsplit("/", 1)[1][:-4]
        assert (tmp_path / "tasks_images" / f"{key}.jpg").read_bytes() == jpeg(IMAGES[KEYS.index(key)])


@pytest.mark.parametrize("kind", list(QUESTIONS))
@pytest.mark.parametrize("lang", ["en", "ar", "th"])
def test_label_config_is_xml_with_one_control_per_question(kind, lang):
    root = ET.fromstring(label_config(kind, lang))
    controls = {c.get("name"): c for c in root.iter("Choices")}
    assert set(controls) == set(QUESTIONS[kind])
    for c in controls.values():
        assert len(c.findall("Choice")) == (3 if kind == "pairwise" else 5)
    assert root.find("TextArea").get("name") == "comment"
    assert root.find("Image").get("value") == "$image"


def _annotations(tasks):
    """What Label Studio would export after two annotators worked on the tasks (formats from its docs: choices
    and rating results, a textarea, completed_by as a user id or an object, a cancelled annotation)."""
    for task in tasks:
        kind = task["data"]["kind"]
        first = [{"from_name": q, "to_name": "text", "type": "choices", "value": {"choices": ["A" if q ==
                  "preference" else "4"]}} for q in QUESTIONS[kind]]
        second = [{"from_name": q, "to_name": "text", "type": "rating", "value": {"rating": 2}}
                  if q != "preference" else
                  {"from_name": q, "to_name": "prompt", "type": "choices", "value": {"choices": ["B is better"]}}
                  for q in QUESTIONS[kind]]
        second.append({"from_name": "comment", "to_name": "text", "type": "textarea",
                       "value": {"text": ["странный перевод"]}})
        task["annotations"] = [
            {"id": 1, "completed_by": 7, "was_cancelled": False, "result": first},
            {"id": 2, "completed_by": {"id": 9, "email": "ivan@example.org"}, "was_cancelled": False,
             "result": second},
            {"id": 3, "completed_by": 11, "was_cancelled": True, "result": first},
        ]
    return tasks


def test_round_trip_through_label_studio(run, tmp_path):
    exported = tmp_path / "tasks.json"
    with RatingStore(default_path(run)) as store:
        export_tasks(store, exported, images=None)
    tasks = _annotations(json.loads(exported.read_text(encoding="utf-8")))
    tasks.append({"id": 99, "data": {"mella_item_id": "not-ours"}, "annotations": []})
    back = tmp_path / "export.json"
    back.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")

    fresh = make_run(tmp_path / "fresh")  # another store with the same items (built with the same seed)
    items = study(fresh)
    with RatingStore(default_path(fresh)) as store:
        counts = import_export(store, back)
        assert counts == {"annotations": 12, "annotations_cancelled": 6, "judgements": 18, "tasks_unknown": 1}
        assert import_export(store, back)["judgements"] == 18  # importing again replaces, never duplicates
        judgements = store.judgements()
    assert len(judgements) == 18
    assert {j["rater_name"] for j in judgements} == {"labelstudio:7", "labelstudio:ivan@example.org"}
    by_item = {i.item_id: i for i in items}
    for j in judgements:
        item = by_item[j["item_id"]]
        first = j["rater_name"] == "labelstudio:7"
        if item.kind == "pairwise":
            assert j["value"] == ("A" if first else "B") and j["shown_a"] == item.systems[0]
        else:
            assert j["value"] == ("4" if first else "2")
        assert j["comment"] == ("" if first else "странный перевод")

    result = CliRunner().invoke(cli, ["rate-report", str(fresh), "--kind", "pairwise", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [res] = json.loads(result.output[result.output.index("["):])
    assert res["judgements"] == 6 and res["tie"]["value"] == 0.0


def test_the_cli_exports_and_imports(run, tmp_path):
    target = tmp_path / "ls.json"
    result = CliRunner().invoke(cli, ["rate-report", str(run), "--export-label-studio", str(target),
                                      "--kind", "ling", "--lang", "ru"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 tasks" in result.output and (tmp_path / "ls.ling.xml").is_file()
    tasks = _annotations(json.loads(target.read_text(encoding="utf-8")))
    target.write_text(json.dumps(tasks), encoding="utf-8")
    result = CliRunner().invoke(cli, ["rate-report", str(run), "--import-label-studio", str(target)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "judgements 4" in result.output and "ru ling: 1 items, 2 raters, 4 judgements" in result.output


@pytest.mark.parametrize("content", ["not json", '{"a": 1}'])
def test_a_file_that_is_not_an_export_is_one_line(run, tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    with RatingStore(default_path(run)) as store, pytest.raises(InputError, match="bad.json"):
        import_export(store, bad)


def test_an_answer_off_the_scale_is_refused(run, tmp_path):
    with RatingStore(default_path(run)) as store:
        item = store.items(kind="know")[0]
        bad = tmp_path / "bad.json"
        good = {"completed_by": 1, "result": [{"from_name": "relevance", "type": "rating", "value": {"rating": 3}}]}
        off = {"completed_by": 2, "result": [{"from_name": "relevance", "type": "rating", "value": {"rating": 9}}]}
        bad.write_text(json.dumps([{"id": 1, "data": {"mella_item_id": item.item_id}, "annotations": [good, off]}]),
                       encoding="utf-8")
        with pytest.raises(InputError, match="task 0: relevance has no valid answer"):
            import_export(store, bad)
        assert store.judgements() == []  # checked before anything was recorded


def test_choices_may_hold_the_anchor_text_in_the_items_language(run, tmp_path):
    from mella.rate.scales import scale

    with RatingStore(default_path(run)) as store:
        item = store.items(kind="ling")[0]
        anchor = scale("fluency", "ru")["anchors"]["5"]
        export = tmp_path / "ls.json"
        export.write_text(json.dumps([{"id": 1, "data": {"mella_item_id": item.item_id}, "annotations": [
            {"completed_by": 1, "result": [{"from_name": "fluency", "type": "choices", "value": {"choices": [anchor]}}]}
        ]}], ensure_ascii=False), encoding="utf-8")
        assert import_export(store, export)["judgements"] == 1
        assert [(j["question"], j["value"]) for j in store.judgements()] == [("fluency", "5")]
