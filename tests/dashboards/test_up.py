"""``headwater up --dashboards DIR``: the folder's dashboards are served, and the API writes into it."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.server.server_process import ServerProcess

BOARD = """id: folder_board
title: From the folder
panels:
  - {id: n, title: N, type: stat, query: "SELECT * FROM T EMIT CHANGES;", value: N}
"""


def test_up_serves_the_dashboards_folder(tmp_path: Path) -> None:
    folder = tmp_path / "boards"
    folder.mkdir()
    (folder / "folder_board.yaml").write_text(BOARD)
    server = ServerProcess(tmp_path / "data", "--dashboards", str(folder)).start()
    try:
        listed = {d["id"]: d["source"] for d in httpx.get(f"{server.url}/dashboards").json()["dashboards"]}
        assert listed["folder_board"] == "folder" and listed["clickstream"] == "packaged"
        made = httpx.put(f"{server.url}/dashboards/saved", json={"id": "saved", "title": "Saved"})
        assert made.status_code == 201 and made.json()["source"] == "folder"
        assert (folder / "saved.yaml").is_file()
        page = httpx.get(f"{server.url}/", headers={"accept": "text/html"})
        assert page.status_code == 200 and "What runs here" in page.text
    finally:
        server.stop()
