"""Label Studio interchange for teams that already rate there: items out as Label Studio JSON tasks, a Label Studio
JSON export back in as judgements.

Tasks (a JSON list, one ``{"id": n, "data": {...}}`` per item) carry ``mella_item_id`` and what the page would show:
``kind``, ``lang``, ``image``, ``prompt``, ``text``, ``source_text``, ``output_a``, ``output_b``; never the system
names (a pairwise study stays blind in Label Studio too). ``image`` is a ``data:`` URL of the stored image by
default (the file is self-contained), or, with an ``image_prefix``, the image is written beside the JSON under
``<file stem>_images/`` and ``image`` is the prefix plus that relative path (for Label Studio's local-files
storage, e.g. ``/data/local-files/?d=``). :func:`label_config` gives a matching labelling configuration.

Import reads Label Studio's JSON export: per task, ``data.mella_item_id`` names the item (which must be in the
store: a pairwise item's systems are known only there), and each annotation that was not cancelled becomes one
rater, ``labelstudio:<user>``, with one judgement per result whose ``from_name`` is one of the item's questions
(a ``choices`` value or a ``rating``) and a ``textarea`` named ``comment`` as the comment.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from mella.errors import InputError, MellaError
from mella.rate.scales import QUESTIONS, VALUES, scale, ui_strings
from mella.rate.store import RatingStore
from mella.rate.tasks import Item, image_bytes

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
COMMENT = "comment"


def task_data(item: Item, image: str | None) -> dict[str, Any]:
    """What a Label Studio task holds for one item (nothing that names a system)."""
    out_a, out_b = item.outputs or ("", "")
    return {"mella_item_id": item.item_id, "kind": item.kind, "lang": item.lang, "image": image or "",
            "prompt": item.prompt, "text": item.text, "source_text": item.source_text,
            "output_a": out_a, "output_b": out_b}


def _image_ref(item: Item, images: Path | None, target: Path, prefix: str | None) -> str | None:
    if item.image_key is None or images is None:
        return None
    try:
        data, media_type = image_bytes(images, item.image_key)
    except KeyError:
        return None
    if prefix is None:
        return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"
    folder = target.parent / f"{target.stem}_images"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{item.image_key}.{EXTENSIONS.get(media_type, 'bin')}"
    (folder / name).write_bytes(data)
    return f"{prefix}{folder.name}/{name}"


def export_tasks(store: RatingStore, path: str | Path, *, images: Path | None, lang: str | None = None,
                 kind: str | None = None, image_prefix: str | None = None) -> int:
    """Write the store's items (optionally one language and kind) as Label Studio JSON tasks; returns how many."""
    target = Path(path)
    items = store.items(lang, kind)
    tasks = [{"id": n, "data": task_data(it, _image_ref(it, images, target, image_prefix))}
             for n, it in enumerate(items, start=1)]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return len(tasks)


def label_config(kind: str, lang: str = "en") -> str:
    """A Label Studio labelling configuration (XML) for tasks of ``kind``, labelled in ``lang``."""
    if kind not in QUESTIONS:
        raise MellaError(f"unknown task kind {kind!r}; known: {', '.join(QUESTIONS)}")
    ui = ui_strings(lang)
    view = ['<View>', '  <Image name="image" value="$image"/>']
    if kind == "pairwise":
        view += [f'  <Header value={quoteattr(ui["prompt_label"])}/>', '  <Text name="prompt" value="$prompt"/>',
                 f'  <Header value={quoteattr(ui["output_a"])}/>', '  <Text name="output_a" value="$output_a"/>',
                 f'  <Header value={quoteattr(ui["output_b"])}/>', '  <Text name="output_b" value="$output_b"/>']
        target = "prompt"
    else:
        label = ui["alt_text_label"] if kind == "know" else ui["translation_label"]
        if kind == "ling":
            view += [f'  <Header value={quoteattr(ui["source_label"])}/>',
                     '  <Text name="source_text" value="$source_text"/>']
        view += [f'  <Header value={quoteattr(label)}/>', '  <Text name="text" value="$text"/>']
        target = "text"
    for question in QUESTIONS[kind]:
        s = scale(question, lang)
        view.append(f'  <Header value={quoteattr(s["label"] + ": " + s["help"])}/>')
        view.append(f'  <Choices name="{question}" toName="{target}" choice="single" required="true">')
        for value, anchor in s["anchors"].items():
            view.append(f'    <Choice value="{value}" hint={quoteattr(anchor)}/>')
        view.append('  </Choices>')
    view += [f'  <TextArea name="{COMMENT}" toName="{target}" placeholder={quoteattr(ui["comment_placeholder"])}/>',
             '</View>']
    return "\n".join(view) + "\n"


def _user(annotation: dict[str, Any]) -> str:
    """The annotator: ``completed_by`` is a user id, or (newer exports) an object with an email or an id."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    return f"labelstudio:{who if who not in (None, '') else 'unknown'}"


def _answer(result: dict[str, Any], question: str, lang: str) -> str | None:
    """The answer a result gives: a ``rating``, or a ``choices`` value: the code (``4``, ``A``, ``tie``) or the
    anchor's text in English or the item's language (a config whose choices show the anchors)."""
    value = result.get("value")
    value = value if isinstance(value, dict) else {}
    try:
        if "rating" in value:
            answer = str(int(value["rating"]))
        elif value.get("choices"):
            answer = str(value["choices"][0])
        else:
            return None
    except (TypeError, ValueError):
        return None
    if answer in VALUES[question]:
        return answer
    anchors = {text: code for tag in ("en", lang) for code, text in scale(question, tag)["anchors"].items()}
    return anchors.get(answer)


def import_export(store: RatingStore, path: str | Path) -> Counter:
    """Judgements from a Label Studio JSON export into the store; counts of what was recorded and skipped.

    The whole file is read and checked before anything is recorded, so a bad answer leaves the store as it was.
    """
    path = Path(path)
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a Label Studio JSON export ({exc})") from exc
    if not isinstance(tasks, list):
        raise InputError(f"{path}: a Label Studio JSON export is a list of tasks, found {type(tasks).__name__}")
    counts: Counter = Counter()
    planned: list[tuple[str, Item, dict[str, str], str]] = []
    for n, task in enumerate(tasks):
        item_id = ((task or {}).get("data") or {}).get("mella_item_id") if isinstance(task, dict) else None
        item = store.item(item_id) if isinstance(item_id, str) else None
        if item is None:
            counts["tasks_unknown"] += 1
            continue
        for annotation in task.get("annotations") or []:
            if not isinstance(annotation, dict) or annotation.get("was_cancelled"):
                counts["annotations_cancelled"] += 1
                continue
            answers, comment = _answers(item, annotation, f"{path}: task {n}")
            if not answers:
                counts["annotations_empty"] += 1
                continue
            planned.append((_user(annotation), item, answers, comment))
    for user, item, answers, comment in planned:
        rater = store.rater(user)
        for question, answer in answers.items():
            store.record(rater, item.item_id, question, answer, comment)
            counts["judgements"] += 1
        counts["annotations"] += 1
    return counts


def _answers(item: Item, annotation: dict[str, Any], where: str) -> tuple[dict[str, str], str]:
    """One annotation's answers (question -> value) to the item's questions, and its comment."""
    results = [r for r in annotation.get("result") or [] if isinstance(r, dict)]
    comment = next((" ".join(map(str, r["value"]["text"])) for r in results
                    if r.get("from_name") == COMMENT and isinstance(r.get("value"), dict)
                    and r["value"].get("text")), "")
    answers = {}
    for r in results:
        question = r.get("from_name")
        if question in QUESTIONS[item.kind]:
            answer = _answer(r, question, item.lang)
            if answer is None:
                raise InputError(f"{where}: {question} has no valid answer ({json.dumps(r.get('value'))[:80]})")
            answers[question] = answer
    return answers, comment
