"""HTTP and WebSocket shell of the exchange: Binance USDⓈ-M compatible REST (`/fapi/...`) and streams,
admin calls, and (later) the classroom pages, on one aiohttp port beside the msgpack gateway."""
