//! A simulated databrain API. (Being written.)

use axum::Router;

use super::Simulation;

pub fn start() -> Simulation {
    Simulation {
        router: Router::new(),
        env: Vec::new(),
        alternatives: Vec::new(),
    }
}
