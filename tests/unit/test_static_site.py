"""The console's files and how they are answered (meshline.static_site): only files of the
folder, by bare name; a strict CSP on every answer; 304 on an unchanged ETag. And the
files themselves: everything they load is one of them, nothing inline, nothing remote."""

import re
from pathlib import Path

import pytest

from meshline.static_site import CONTENT_SECURITY_POLICY, SERVABLE_NAME, StaticSite

CONSOLE = Path(__file__).resolve().parents[2] / "functions" / "serve_console" / "console"


@pytest.fixture
def site(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>")
    (tmp_path / "app.js").write_text("export const answer = 42;\n")
    (tmp_path / "Notes.txt").write_text("not servable")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner.js").write_text("nested: not servable")
    (tmp_path.parent / "secret.js").write_text("outside the folder")
    return StaticSite(tmp_path)


def test_a_file_is_answered_with_its_type_a_strict_policy_and_an_etag(site):
    answer = site.answer("app.js")
    assert (answer.status, answer.body) == (200, "export const answer = 42;\n")
    assert answer.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert CONTENT_SECURITY_POLICY.startswith("default-src 'self'; script-src 'self'; style-src 'self'")
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert answer.headers["X-Content-Type-Options"] == "nosniff" and answer.headers["Cache-Control"] == "no-cache"
    assert re.fullmatch(r'"[0-9a-f]{32}"', answer.headers["ETag"])


def test_an_unchanged_file_is_answered_304_without_a_body(site):
    etag = site.answer("index.html").headers["ETag"]
    for offered in (etag, f"W/{etag}", f'"other", {etag}'):
        answer = site.answer("index.html", offered)
        assert (answer.status, answer.body, answer.headers["ETag"]) == (304, "", etag)
    assert site.answer("index.html", '"stale"').status == 200


@pytest.mark.parametrize("name", ["../secret.js", "sub/inner.js", "Notes.txt", "sub", "", ".", "..", "missing.js",
                                  "%2e%2e%2fsecret.js", "index.html/"])
def test_only_files_of_the_folder_are_answered_by_bare_name(site, name):
    answer = site.answer(name)
    assert answer.status == 404 and answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "outside" not in answer.body


def console_files() -> dict[str, str]:
    return {path.name: path.read_text() for path in CONSOLE.iterdir() if path.is_file()}


def test_every_file_the_console_loads_is_one_it_serves():
    files = console_files()
    assert set(files) == {name for name in files if SERVABLE_NAME.match(name)}, "a file the function would not serve"
    page = files["index.html"]
    loaded = set(re.findall(r'(?:src|href)="console/([^"]+)"', page))
    for name, text in files.items():
        if name.endswith(".js"):
            loaded |= set(re.findall(r'from "\./([^"]+)"', text))
    assert loaded and loaded <= set(files), loaded - set(files)
    assert {"app.js", "console.css"} <= loaded


def test_nothing_is_inline_or_remote_and_the_credential_has_nowhere_to_leak():
    files = console_files()
    page = files["index.html"]
    assert re.findall(r"<script[^>]*>", page) == ['<script type="module" src="console/app.js">']
    assert not re.search(r"\sstyle=|\son[a-z]+=|javascript:", page)
    for name, text in files.items():
        remote = [url for url in re.findall(r"https?://[^\s\"')]+", text) if url != "http://www.w3.org/2000/svg"]
        assert not remote, (name, remote)  # no CDN: the page loads only what this function serves
        if name.endswith(".js"):
            code = re.sub(r"/\*.*?\*/|^\s*//.*$|\s//\s.*$", "", text, flags=re.S | re.M)  # comments may say "never"
            for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "localStorage", "document.cookie", "eval("):
                assert forbidden not in code, (name, forbidden)
