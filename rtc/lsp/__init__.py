"""`rtc lsp`: the language server for `.rt` and rtc YAML files.

The modules, from the editor inward:

- `server`   the pygls wiring: LSP messages in, LSP messages out, debounced
             diagnostics, and a guard so that no input ends the server
- `project`  the files the editor has open (unsaved text wins over the disk),
             parses cached by text, imports followed, the compiler run
- `index`    definitions and references found in syntax trees (`rtc.dsl.ast`),
             which hover, definition, references and rename share
- `complete` what may be typed at a position, read from the text around it
             (the file is usually broken while one types)
- `textpos`  positions: the compiler's 1-based spans <-> LSP's 0-based,
             UTF-16 positions, and a small tokenizer for the text around one

Everything below `server` is plain Python over rtc's own types, testable
without an editor; pygls and lsprotocol are imported by `server` only.
"""
