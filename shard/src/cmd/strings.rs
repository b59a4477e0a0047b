//! strings executors (being written)
use crate::exec::Ctx; use bytes::Bytes; use proto::Reply;
pub fn get(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn set(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn setex(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn psetex(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn setnx(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn getdel(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn getex(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn getset(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn mget(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn mset(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn msetnx(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn incr(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn decr(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn incrby(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn decrby(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn incrbyfloat(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn append(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn strlen(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn getrange(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn setrange(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
