//! Pools: live MCP sessions per service ([`connection`]) and reusable objects ([`object`]).

pub mod connection;
pub mod object;
pub mod stats;

pub use connection::{ConnectionPool, Lease, ServiceState};
pub use object::{
    ObjectPool, ObjectPoolStats, Pooled, object_pool_stats, register_object_pool, trim_object_pools,
};
pub use stats::PoolStats;
