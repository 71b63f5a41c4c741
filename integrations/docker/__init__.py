"""Docker: images from environments, the local runner, and the engine calls they share.

`engine` is the only module that talks to the Docker engine for containers;
`images` builds environments; `runner` runs a graph of the IR locally.
"""
