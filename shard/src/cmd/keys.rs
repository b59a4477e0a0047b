//! keys executors (being written)
use crate::exec::Ctx; use bytes::Bytes; use proto::Reply;
pub fn del(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn exists(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn type_(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn touch(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn expire(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn pexpire(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn expireat(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn pexpireat(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn ttl(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn pttl(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn expiretime(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn pexpiretime(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn persist(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn keys(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn scan(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn rename(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn renamenx(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn randomkey(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn dbsize(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn flushdb(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
pub fn flushall(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply { Reply::error("ERR not yet implemented") }
