"""The sans-I/O core: text and values in, values out. Nothing here touches the network,
the environment, the clock or files; the adapters and the CLI do that."""
