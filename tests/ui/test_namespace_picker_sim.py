"""Issue 17 (smaller): switching the Falco namespace offers the cluster's namespaces, k9s-style — narrowed
as you type, ↑↓ to move, enter to switch — and a name that is not listed can still be typed."""

from __future__ import annotations

from falcotui.ui.reconnect import NamespacePrompt, Reconnect, matching


def test_matching_puts_an_exact_name_then_prefixes_first():
    names = ["default", "falco", "falco-system", "kube-system", "my-falco"]
    assert matching(names, "falco") == ["falco", "falco-system", "my-falco"]
    assert matching(names, "") == names
    assert matching(names, "zzz") == []


async def test_pick_a_listed_namespace_with_the_keys(demo_app, screen_text, until):
    app, _ = demo_app(nodes=1, scenario="quiet")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        app.ask_namespace()
        assert await until(pilot, lambda: isinstance(app.screen, NamespacePrompt))
        prompt = app.screen
        assert await until(pilot, lambda: "kube-system" in prompt.shown), screen_text(app)
        assert "falco" in prompt.names and "falco  (current)" in screen_text(app)
        assert {"default", "kube-system"} <= set(prompt.names)
        await pilot.press(*"kube")
        assert await until(pilot, lambda: prompt.shown and all("kube" in n for n in prompt.shown))
        assert "default" not in screen_text(app).split("Falco namespace")[1]
        target = prompt.shown[1] if len(prompt.shown) > 1 else prompt.shown[0]
        await pilot.press("down", "enter")
        assert await until(pilot, lambda: app.return_value is not None)
    assert app.return_value == Reconnect(None, target)


async def test_a_name_not_listed_can_be_typed(demo_app, until):
    app, _ = demo_app(nodes=1, scenario="quiet", deploy=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        app.ask_namespace()
        assert await until(pilot, lambda: isinstance(app.screen, NamespacePrompt))
        prompt = app.screen
        assert await until(pilot, lambda: bool(prompt.names))
        await pilot.press(*"falco-staging", "enter")
        assert await until(pilot, lambda: app.return_value is not None)
    assert app.return_value == Reconnect(None, "falco-staging")
