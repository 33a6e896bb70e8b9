"""The archive in Debian's chromium (selenium), against the real ``podscribe serve`` process: search and open a
hit at its moment, correct and save a revision, reload, find the corrected word, see the original in the history;
two tabs saving the same episode; a server on another host opened with and without its token."""
from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from tests import browser
from tests.archive import add_episode, spoken, tone, transcript
from tests.archive_server import ArchiveServer
from tests.test_review_page import press, wait

pytestmark = [pytest.mark.browser, pytest.mark.server]


def episode():
    return transcript("pilot", (
        spoken("BRIAN", 0.5, "welcome to the show about lie node hosting", marked=(5, 6)),
        spoken("JEFF", 5.5, "thanks I run user mode linux there every day"),
        spoken("BRIAN", 11.0, "tell us more")))


@pytest.fixture(scope="module")
def driver():
    reason = browser.available()
    if reason:
        pytest.fail(f"the archive's browser tests need Debian's chromium and selenium: {reason}")
    with browser.chromium() as d:
        yield d


@pytest.fixture
def server(tmp_path):
    out = tmp_path / "outputs"
    add_episode(out, episode(), show="The Show", audio=tone(tmp_path / "audio" / "pilot.ogg", 14.0))
    with ArchiveServer(out) as s:
        s.out = out
        yield s


def open_episode(driver, url: str) -> None:
    driver.get(url)
    wait(driver, "return document.documentElement.dataset.ready === '1'")


def word_index(driver, text: str) -> int:
    return driver.execute_script(
        "return [...document.querySelectorAll('.w')].findIndex(e => e.textContent === arguments[0])", text)


def correct(driver, i: int, text: str) -> None:
    driver.find_element("css selector", f'.w[data-i="{i}"]').click()
    press(driver, "e")
    driver.find_element("css selector", "input.edit").send_keys(text + "\n")


def state(driver) -> str:
    return driver.find_element("id", "state").text


def test_search_and_open_a_hit_at_its_moment(driver, server):
    driver.get(server.base + "/")
    driver.find_element("css selector", "header input[type=search]").send_keys("linux\n")
    wait(driver, "return document.querySelectorAll('a.hit').length === 1")
    assert "JEFF" in driver.find_element("css selector", "a.hit .where").text
    driver.find_element("css selector", "a.hit").click()
    wait(driver, "return document.documentElement.dataset.ready === '1'")
    assert driver.current_url.endswith("/episode/pilot#t=8.00")
    wait(driver, "return document.getElementById('audio').readyState >= 1")
    assert driver.execute_script("return document.getElementById('audio').currentTime") == pytest.approx(8.0, abs=0.05)
    assert driver.execute_script("return [...document.querySelectorAll('.w.sel')].map(e => e.textContent)") == ["linux"]


def test_correct_save_reload_find_and_see_the_original_in_the_history(driver, server):
    open_episode(driver, server.base + "/episode/pilot")
    driver.find_element("id", "author").send_keys("Ann")
    lie = word_index(driver, "lie")
    driver.find_element("css selector", f'.w[data-i="{lie}"]').click()
    node = driver.find_element("css selector", f'.w[data-i="{lie + 1}"]')
    ActionChains(driver).key_down(Keys.SHIFT).click(node).key_up(Keys.SHIFT).perform()  # "lie node" selected
    press(driver, "e")
    driver.find_element("css selector", "input.edit").send_keys("Linode\n")
    driver.find_element("id", "save").click()
    wait(driver, "return document.documentElement.dataset.revision === '1'")
    assert "saved as revision 1" in state(driver) and "learned Linode" in state(driver)

    driver.refresh()
    wait(driver, "return document.documentElement.dataset.ready === '1'")
    assert word_index(driver, "Linode") >= 0 and word_index(driver, "lie") < 0
    assert state(driver) == "no edits yet"
    assert "Linode hosting" in (server.out / "pilot.forum.txt").read_text()

    driver.get(server.base + "/search?q=linode")
    assert "Linode hosting" in driver.find_element("css selector", "a.hit .text").text
    driver.get(server.base + "/episode/pilot/history")
    rows = driver.find_element("css selector", "table.history").text
    assert "the model's transcript" in rows and "Ann" in rows
    assert driver.find_element("css selector", ".changes del").text == "lie [?] node [?]"
    assert driver.find_element("css selector", ".changes ins").text == "Linode"


def test_two_tabs_saving_the_same_episode_conflict_and_nothing_is_lost(driver, server):
    open_episode(driver, server.base + "/episode/pilot")
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    open_episode(driver, server.base + "/episode/pilot")
    second = driver.current_window_handle
    correct(driver, word_index(driver, "tell"), "Tell")

    driver.switch_to.window(first)
    correct(driver, word_index(driver, "welcome"), "Welcome")
    driver.find_element("id", "save").click()
    wait(driver, "return document.documentElement.dataset.revision === '1'")

    driver.switch_to.window(second)
    driver.find_element("id", "save").click()
    wait(driver, "return document.getElementById('state').classList.contains('conflict')")
    assert "since you opened it" in state(driver) and "nothing was overwritten" in state(driver)
    assert word_index(driver, "Tell") >= 0  # this tab's edit is still on its page
    assert driver.execute_script("return document.documentElement.dataset.revision") == "0"
    forum = (server.out / "pilot.forum.txt").read_text()
    assert "Welcome" in forum and "Tell" not in forum  # the first save stands
    driver.close()
    driver.switch_to.window(first)


def test_a_server_on_another_host_wants_its_token(driver, tmp_path):
    out = tmp_path / "outputs"
    add_episode(out, episode())
    with ArchiveServer(out, "--host", "0.0.0.0") as server:
        local = server.base.replace("0.0.0.0", "127.0.0.1")
        driver.get(local + "/")
        assert "a token is needed" in driver.find_element("tag name", "body").text
        driver.get(f"{local}/?token={server.token}")
        assert driver.current_url == local + "/"  # the token went into a cookie
        assert driver.find_element("css selector", "h1").text == "All episodes"
        open_episode(driver, local + "/episode/pilot")
        correct(driver, word_index(driver, "welcome"), "Welcome")
        driver.find_element("id", "save").click()
        wait(driver, "return document.documentElement.dataset.revision === '1'")
    assert "Welcome" in Path(out / "pilot.forum.txt").read_text()
