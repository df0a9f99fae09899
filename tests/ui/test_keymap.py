"""Binding ids and the user's keymap file: every key has an id, a keymap file remaps keys by id (and help
shows the new key with its id), and whatever is wrong in the file is said without stopping the app."""

from __future__ import annotations

import re
from pathlib import Path

from textual.widgets import Input

from falcotui.ui.alerts.screen import AlertsScreen
from falcotui.ui.app import FalcoTuiApp
from falcotui.ui.help_screen import HelpScreen, key_sections
from falcotui.ui.keymap import default_keymap_path, load_keymap, ui_bindings
from falcotui.ui.widgets.keybar import KeyBar

ID = re.compile(r"^[a-z][a-z-]*\.[a-z0-9][a-z0-9-]*$")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keymap.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_binding_has_an_id_that_names_one_action():
    assert FalcoTuiApp  # the app's import loads every screen and widget class
    known = ui_bindings()
    assert {"app.quit", "alerts.filter", "fleet.sort", "rules.push", "deploy.apply"} <= set(known)
    for ident, bindings in known.items():
        assert ID.match(ident), ident
        assert len({b.action for b in bindings}) == 1, (ident, [b.action for b in bindings])
    from textual.binding import Binding
    from textual.dom import DOMNode

    from falcotui.ui.keymap import _ui_classes

    unnamed = [
        (cls.__name__, b.key)
        for cls in _ui_classes(DOMNode)
        for b in cls.__dict__.get("BINDINGS", ())
        if isinstance(b, Binding) and not b.id
    ]
    assert unnamed == []


def test_keymap_file_problems_are_said_and_the_rest_applies(tmp_path):
    path = write(
        tmp_path,
        "alerts.filter: ctrl+f\n"
        "alerts.fliter: ctrl+g\n"  # a typo: the nearest real id is named
        "app.quit: [ctrl+q, 'ctrl+c']\n"
        "fleet.sort: 12\n"  # not a key
        "fleet.filter: 'ctrl f'\n"  # a space: not a key
        "deploy.apply: p\n",  # the gRPC profile's key on the same screen
    )
    keymap = load_keymap(path)
    assert keymap.keys == {"alerts.filter": "ctrl+f", "app.quit": "ctrl+q,ctrl+c", "deploy.apply": "p"}
    problems = "\n".join(keymap.problems)
    assert "no binding has the id alerts.fliter (did you mean alerts.filter?)" in problems
    assert "fleet.sort: expected a key like ctrl+f" in problems
    assert "fleet.filter: not a key: ctrl f" in problems
    assert "deploy.apply and deploy.grpc-profile are both on p: only one of them works" in problems


def test_hostile_keymap_text_comes_back_as_text(tmp_path):
    (problem,) = load_keymap(write(tmp_path, "alerts.filter: ctrl+f\n\x1b]0;owned\x07: x\n")).problems
    assert "not YAML" in problem and "\x1b" not in problem and "\x07" not in problem
    (problem,) = load_keymap(write(tmp_path, "'[bold red]x\\e[2J': ctrl+f\n")).problems
    assert "no binding has the id [bold red]x" in problem


def test_keymap_that_is_not_yaml_remaps_nothing_and_says_where(tmp_path):
    keymap = load_keymap(write(tmp_path, "alerts.filter: ctrl+f\napp.quit: [ctrl+q\n"))
    assert keymap.keys == {}
    (problem,) = keymap.problems
    assert "not YAML at line 3, column 1" in problem and "no key was remapped" in problem


def test_missing_keymap_is_silent_unless_asked_for(tmp_path):
    assert load_keymap(tmp_path / "none.yaml").problems == ()
    assert load_keymap(tmp_path / "none.yaml", explicit=True).problems == (
        f"keymap {tmp_path}/none.yaml: no such file",
    )
    env = {"HOME": "/home/ann"}
    assert default_keymap_path(env) == Path("/home/ann/.config/falcotui/keymap.yaml")
    assert default_keymap_path({**env, "XDG_CONFIG_HOME": "/cfg"}) == Path("/cfg/falcotui/keymap.yaml")


async def test_remapped_keys_work_show_in_the_bar_and_help_and_problems_are_notified(frozen, until, tmp_path):
    keymap = load_keymap(write(tmp_path, "app.alerts: f7\nalerts.filter: ctrl+f\nnope.nothing: x\n"))
    app = frozen(keymap=keymap)
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.pause()
        assert any("no binding has the id nope.nothing" in str(n.message) for n in app._notifications)
        await pilot.press("f2")  # the default key is gone: F2 no longer switches
        await pilot.pause()
        assert not isinstance(app.screen, AlertsScreen)
        await pilot.press("f7")
        assert await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        bar = app.screen.query_one(KeyBar).render().plain
        assert "^f" in bar and "Filter" in bar and " / " not in bar.split("Filter")[0][-4:]
        await pilot.press("slash")  # no longer the filter key
        await pilot.pause()
        assert not isinstance(app.focused, Input)
        await pilot.press("ctrl+f")
        assert await until(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press("escape")
        await pilot.pause()
        rows = {row.ident: row for _, rows in key_sections(app.screen) for row in rows if row.ident}
        assert rows["alerts.filter"].keys == "^f" and rows["app.alerts"].keys == "f7"
        also = dict((row.keys, row.what) for row in dict(key_sections(app.screen))["Also"])
        assert f"in {tmp_path}/keymap.yaml (2 remapped there)" in also["keymap"]
        app.action_help()
        assert await until(pilot, lambda: isinstance(app.screen, HelpScreen))
