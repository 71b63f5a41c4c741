// The rtc extension: starts `rtc lsp` (the language server in the rtc Python package)
// for .rt files and rtc YAML files. Everything language-aware lives in the server;
// this file only starts and stops it.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("rtc");
  const [command, ...args] = config.get("server.command", ["rtc", "lsp"]);
  const documentSelector = [{ scheme: "file", language: "rt" }];
  if (config.get("server.yaml", true)) {
    // The server answers only for YAML files with rtc's top-level keys.
    documentSelector.push({ scheme: "file", language: "yaml" });
  }
  client = new LanguageClient(
    "rtc",
    "rtc language server",
    { run: { command, args, transport: TransportKind.stdio }, debug: { command, args, transport: TransportKind.stdio } },
    {
      documentSelector,
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.{rt,yaml,yml}") },
    }
  );
  context.subscriptions.push(
    vscode.commands.registerCommand("rtc.restartServer", () => client.restart())
  );
  return client.start().catch((error) => {
    vscode.window.showErrorMessage(
      `rtc: cannot start the language server with ${JSON.stringify([command, ...args])}: ${error.message}. ` +
        "Install rtc (pip install 'rtc[lsp]') or set rtc.server.command."
    );
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
