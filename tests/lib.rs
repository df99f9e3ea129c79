//! Shared pieces of the integration tests and, later, the simulators of
//! external systems (Sepidar, WooCommerce, gateways) that the demo also
//! runs. The tests themselves live in `all/`.
