"""The web page in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium uploads the sample clip and records from Chromium's fake camera and
microphone (fed from files made from the sample), and the rendered result is checked."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_service import SAMPLE, Served

from avemotion.media.decode import load_audio, load_frames
from avemotion.media.encode import write_audio
from avemotion.prediction.recognizer import Recognizer
from avemotion.service.app import Settings

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Chromium and chromium-driver are not installed "
                                "(Debian: apt-get install chromium chromium-driver)")


def _y4m(path: Path, frames: np.ndarray, fps: int) -> Path:
    """RGB frames (N, H, W, 3) as a YUV4MPEG2 file, the format Chromium's fake camera reads."""
    height, width = frames.shape[1:3]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="module")
def fake_media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("fake")
    frames = load_frames(SAMPLE, np.arange(0, 4.4, 0.1)).images
    video = _y4m(folder / "camera.y4m", frames, 10)
    audio = folder / "microphone.wav"
    write_audio(audio, load_audio(SAMPLE, 48000), 48000)
    return video, audio


@pytest.fixture(scope="module")
def browser(fake_media: tuple[Path, Path]) -> Iterator[object]:
    from selenium.webdriver.chrome.service import Service

    video, audio = fake_media
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1400",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 "--autoplay-policy=no-user-gesture-required",
                 f"--use-file-for-fake-video-capture={video}", f"--use-file-for-fake-audio-capture={audio}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(browser: object) -> Iterator[Served]:
    recognizer = Recognizer.load("default")
    served = Served(Settings(), lambda model: recognizer)
    yield served
    served.stop()


def _wait_done(driver: object, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = driver.find_element("id", "status").text  # type: ignore[attr-defined]
        if text.endswith("done.") or driver.find_element("id", "status").get_attribute("class") == "error":  # type: ignore[attr-defined]
            return text
        time.sleep(0.2)
    raise AssertionError(f"the page did not finish: {text!r}")


def _shot(driver: object, name: str, tmp_path: Path) -> None:
    target = Path(os.environ.get("AVEMOTION_SCREENSHOTS", tmp_path))
    target.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(target / name))  # type: ignore[attr-defined]


def test_uploading_the_sample_shows_the_fused_emotion_and_each_modality(browser: object, page: Served, tmp_path: Path) -> None:
    browser.get(page.base + "/")  # type: ignore[attr-defined]
    browser.find_element("id", "file").send_keys(str(SAMPLE))  # type: ignore[attr-defined]
    assert _wait_done(browser) == "sample.mp4: done."
    expected = Recognizer.load("default").analyse(SAMPLE)
    assert browser.find_element("id", "emotion").text == expected.emotion  # type: ignore[attr-defined]
    titles = [h.text for h in browser.find_elements("css selector", "#bars h3")]  # type: ignore[attr-defined]
    assert titles == ["Fused", "audio", "face"]
    rows = browser.find_elements("css selector", "#bars .modality:first-child .bar-row")  # type: ignore[attr-defined]
    assert len(rows) == 8 and rows[0].get_attribute("data-label") == expected.emotion
    assert browser.find_element("id", "download-csv").is_displayed()  # type: ignore[attr-defined]
    note = browser.find_element("css selector", "#novelty .novelty").text  # type: ignore[attr-defined]
    assert note.startswith("audio: unlike") and f"novelty {expected.novelty['audio']:.2f}" in note, note
    _shot(browser, "upload.png", tmp_path)


def test_the_timeline_is_drawn_when_asked(browser: object, page: Served, tmp_path: Path) -> None:
    browser.get(page.base + "/")  # type: ignore[attr-defined]
    browser.find_element("id", "timeline").click()  # type: ignore[attr-defined]
    browser.find_element("id", "file").send_keys(str(SAMPLE))  # type: ignore[attr-defined]
    assert _wait_done(browser) == "sample.mp4: done."
    lines = browser.find_elements("css selector", "#timeline-chart polyline")  # type: ignore[attr-defined]
    assert len(lines) == 8
    browser.execute_script("document.getElementById('chart').scrollIntoView()")  # type: ignore[attr-defined]
    size = browser.find_element("id", "timeline-chart").size  # type: ignore[attr-defined]
    assert size["width"] > 800 and size["height"] > 200, size
    _shot(browser, "timeline.png", tmp_path)


def test_recording_from_the_camera_and_microphone(browser: object, page: Served, tmp_path: Path) -> None:
    browser.get(page.base + "/")  # type: ignore[attr-defined]
    seconds = browser.find_element("id", "seconds")  # type: ignore[attr-defined]
    seconds.clear()
    seconds.send_keys("3")
    browser.find_element("id", "record").click()  # type: ignore[attr-defined]
    status = _wait_done(browser)
    _shot(browser, "recording.png", tmp_path)
    assert status.startswith("recording.") and status.endswith("done."), status
    used = browser.find_element("id", "confidence").text  # type: ignore[attr-defined]
    assert "audio" in used and "face" in used, used
