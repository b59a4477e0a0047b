//! hashes executors (being written)
use crate::exec::Ctx; use bytes::Bytes; use proto::Reply;
pub fn hset(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hsetnx(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hget(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hmget(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hmset(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hgetall(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hdel(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hexists(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hlen(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hkeys(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hvals(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hincrby(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hincrbyfloat(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hstrlen(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn hscan(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
