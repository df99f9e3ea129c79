//! A Sepidar web-service simulator (placeholder; being built).
