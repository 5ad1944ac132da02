"""A real editor's LSP client: headless Neovim opens an example, a typo goes in, and the
server's diagnostic comes back through Neovim's own diagnostics (and a hover answers)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES

SCRIPT = r"""
local file = os.getenv("LSP_TEST_FILE")
local out = os.getenv("LSP_TEST_OUT")
local published = 0
local default = vim.lsp.handlers["textDocument/publishDiagnostics"]
vim.lsp.handlers["textDocument/publishDiagnostics"] = function(err, result, ctx, config)
  if result and result.uri == vim.uri_from_fname(file) then published = published + 1 end
  return default(err, result, ctx, config)
end
vim.cmd("edit " .. vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
local id = vim.lsp.start_client({
  name = "iommu-rules",
  cmd = { os.getenv("LSP_TEST_EXE"), "lsp" },
  root_dir = vim.fn.fnamemodify(file, ":h"),
})
vim.lsp.buf_attach_client(buf, id)
local result = { started = id ~= nil }
local function codes()
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(found, { code = d.code, lnum = d.lnum, col = d.col, message = d.message })
  end
  return found
end
result.first = vim.wait(30000, function() return published >= 1 end, 20)
result.before = codes()
-- the typo: `iommu mc swgroup g2` becomes `iommu mcc swgroup g2`
local row = vim.fn.search("iommu mc swgroup g2") - 1
local col = vim.fn.col(".") - 1 + #"iommu mc"
vim.api.nvim_buf_set_text(buf, row, col, row, col, { "c" })
result.typo_line = row
result.second = vim.wait(30000, function()
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.code == "E104" then return true end
  end
  return false
end, 20)
result.after = codes()
local hover = vim.lsp.buf_request_sync(buf, "textDocument/hover", {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  position = { line = row, character = 8 },
}, 10000)
result.hover = ""
for _, answer in pairs(hover or {}) do
  if answer.result and answer.result.contents then
    result.hover = answer.result.contents.value or ""
  end
end
local fh = io.open(out, "w")
fh:write(vim.fn.json_encode(result))
fh:close()
vim.lsp.stop_client(id)
vim.cmd("qa!")
"""


def test_neovim_reads_the_servers_diagnostic_back(tmp_path: Path) -> None:
    nvim = shutil.which("nvim")
    if nvim is None:
        pytest.skip("nvim is not installed (.ci/run installs Debian's neovim package)")
    server = shutil.which("iommu-rules", path=str(Path(sys.executable).parent))
    assert server, "console script not installed next to this Python"
    board = tmp_path / "tegra30.iommu"
    board.write_text((EXAMPLES / "tegra30.iommu").read_text())
    script = tmp_path / "drive.lua"
    script.write_text(SCRIPT)
    out = tmp_path / "result.json"
    env = {
        **os.environ,
        "LSP_TEST_FILE": str(board),
        "LSP_TEST_OUT": str(out),
        "LSP_TEST_EXE": server,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-n", "-c", f"luafile {script}"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.exists(), f"nvim wrote no result: {proc.stdout}{proc.stderr}"
    result = json.loads(out.read_text())
    assert result["started"] and result["first"], result
    assert result["before"] == [], result  # the example is clean
    assert result["second"], result
    (typo,) = [d for d in result["after"] if d["code"] == "E104"]
    assert typo["lnum"] == result["typo_line"]
    assert "unknown iommu 'mcc'" in typo["message"] and "did you mean 'mc'?" in typo["message"]
    assert "**device gr2d**" in result["hover"]
