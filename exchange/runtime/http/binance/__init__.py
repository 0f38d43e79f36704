"""I/O-free translation between Binance USDⓈ-M shapes and the core: parameters -> commands,
views and history -> JSON, rejection codes -> Binance error codes, request signing."""
