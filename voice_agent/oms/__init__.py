"""Order-management system: the shared domain models, an HTTP client and an embedded demo OMS."""
