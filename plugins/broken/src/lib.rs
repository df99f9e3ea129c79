//! TEST ONLY: a module whose `describe` traps. The host health-checks a new
//! version with `describe` before it serves, so a tenant upgraded to this
//! one must be rolled back to the previous version.

use hamgam_sdk::{HttpRequest, HttpResponse, Module, ModuleInfo, Result};

struct Broken;

impl Module for Broken {
    fn describe() -> ModuleInfo {
        panic!("this build is broken on purpose")
    }

    fn handle_request(_request: HttpRequest) -> Result<HttpResponse> {
        Ok(HttpResponse::text(500, "broken"))
    }
}

hamgam_sdk::export_module!(Broken);
