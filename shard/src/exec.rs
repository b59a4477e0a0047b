//! Dispatch from a [`ShardCmd`] to its executor.
//!
//! Executors are plain synchronous functions over the shard's state. No
//! await inside one means each runs atomically on its shard without locks.
//! The match has no catch-all arm: a command declared in the table without
//! an executor does not compile.

use crate::cmd::{
    blocking, copy, hashes, keys, listmove, lists, object, setops, sets, strings, swapdb, zsets,
};
use crate::keyspace::Db;
use crate::shard::Shard;
use bytes::Bytes;
use proto::table::flags;
use proto::{errors, Reply, ShardCmd};

/// What an executor sees: the shard, the selected database and the time.
pub struct Ctx<'a> {
    pub shard: &'a mut Shard,
    pub db: usize,
    /// Unix time in milliseconds, read once per batch of commands.
    pub now: u64,
}

impl Ctx<'_> {
    pub fn db(&mut self) -> &mut Db {
        self.shard.db(self.db)
    }
}

/// Runs one command whose arity has been checked and whose keys all live on
/// this shard. `args[0]` is the command name.
pub fn execute(ctx: &mut Ctx, cmd: ShardCmd, args: &[Bytes]) -> Reply {
    // Redis's performCommand: over maxmemory, evict first, and refuse a
    // command that may grow memory if that did not bring usage down.
    if ctx.shard.maxmemory() != 0
        && !ctx.shard.in_exec
        && cmd.spec().has(flags::DENYOOM)
        && !ctx.shard.make_room(ctx.now)
    {
        return Reply::error(errors::OOM);
    }
    let reply = dispatch(ctx, cmd, args);
    ctx.shard.settle(ctx.db);
    reply
}

fn dispatch(ctx: &mut Ctx, cmd: ShardCmd, args: &[Bytes]) -> Reply {
    use ShardCmd::*;
    match cmd {
        Get => strings::get(ctx, args),
        Set => strings::set(ctx, args),
        Setex => strings::setex(ctx, args),
        Psetex => strings::psetex(ctx, args),
        Setnx => strings::setnx(ctx, args),
        Getdel => strings::getdel(ctx, args),
        Getex => strings::getex(ctx, args),
        Getset => strings::getset(ctx, args),
        Mget => strings::mget(ctx, args),
        Mset => strings::mset(ctx, args),
        Msetnx => strings::msetnx(ctx, args),
        Incr => strings::incr(ctx, args),
        Decr => strings::decr(ctx, args),
        Incrby => strings::incrby(ctx, args),
        Decrby => strings::decrby(ctx, args),
        Incrbyfloat => strings::incrbyfloat(ctx, args),
        Append => strings::append(ctx, args),
        Strlen => strings::strlen(ctx, args),
        Getrange => strings::getrange(ctx, args),
        Setrange => strings::setrange(ctx, args),
        Del => keys::del(ctx, args),
        Unlink => keys::del(ctx, args),
        Exists => keys::exists(ctx, args),
        Type => keys::type_(ctx, args),
        Touch => keys::touch(ctx, args),
        Expire => keys::expire(ctx, args),
        Pexpire => keys::pexpire(ctx, args),
        Expireat => keys::expireat(ctx, args),
        Pexpireat => keys::pexpireat(ctx, args),
        Ttl => keys::ttl(ctx, args),
        Pttl => keys::pttl(ctx, args),
        Expiretime => keys::expiretime(ctx, args),
        Pexpiretime => keys::pexpiretime(ctx, args),
        Persist => keys::persist(ctx, args),
        Keys => keys::keys(ctx, args),
        Scan => keys::scan(ctx, args),
        Rename => keys::rename(ctx, args),
        Renamenx => keys::renamenx(ctx, args),
        Copy => copy::copy(ctx, args),
        Randomkey => keys::randomkey(ctx, args),
        Swapdb => swapdb::swapdb(ctx, args),
        Object => object::object(ctx, args),
        Dbsize => keys::dbsize(ctx, args),
        Flushdb => keys::flushdb(ctx, args),
        Flushall => keys::flushall(ctx, args),
        Hset => hashes::hset(ctx, args),
        Hsetnx => hashes::hsetnx(ctx, args),
        Hget => hashes::hget(ctx, args),
        Hmget => hashes::hmget(ctx, args),
        Hmset => hashes::hmset(ctx, args),
        Hgetall => hashes::hgetall(ctx, args),
        Hdel => hashes::hdel(ctx, args),
        Hexists => hashes::hexists(ctx, args),
        Hlen => hashes::hlen(ctx, args),
        Hkeys => hashes::hkeys(ctx, args),
        Hvals => hashes::hvals(ctx, args),
        Hincrby => hashes::hincrby(ctx, args),
        Hincrbyfloat => hashes::hincrbyfloat(ctx, args),
        Hstrlen => hashes::hstrlen(ctx, args),
        Hscan => hashes::hscan(ctx, args),
        Sadd => sets::sadd(ctx, args),
        Srem => sets::srem(ctx, args),
        Smembers => sets::smembers(ctx, args),
        Sismember => sets::sismember(ctx, args),
        Smismember => sets::smismember(ctx, args),
        Scard => sets::scard(ctx, args),
        Spop => sets::spop(ctx, args),
        Srandmember => sets::srandmember(ctx, args),
        Sscan => sets::sscan(ctx, args),
        Smove => setops::smove(ctx, args),
        Sinter => setops::sinter(ctx, args),
        Sintercard => setops::sintercard(ctx, args),
        Sinterstore => setops::sinterstore(ctx, args),
        Sunion => setops::sunion(ctx, args),
        Sunionstore => setops::sunionstore(ctx, args),
        Sdiff => setops::sdiff(ctx, args),
        Sdiffstore => setops::sdiffstore(ctx, args),
        Zadd => zsets::zadd(ctx, args),
        Zincrby => zsets::zincrby(ctx, args),
        Zrem => zsets::zrem(ctx, args),
        Zscore => zsets::zscore(ctx, args),
        Zmscore => zsets::zmscore(ctx, args),
        Zcard => zsets::zcard(ctx, args),
        Zcount => zsets::zcount(ctx, args),
        Zrange => zsets::zrange(ctx, args),
        Zrangebyscore => zsets::zrangebyscore(ctx, args),
        Zrevrange => zsets::zrevrange(ctx, args),
        Zrank => zsets::zrank(ctx, args),
        Zrevrank => zsets::zrevrank(ctx, args),
        Zremrangebyscore => zsets::zremrangebyscore(ctx, args),
        Zremrangebyrank => zsets::zremrangebyrank(ctx, args),
        Zpopmin => zsets::zpopmin(ctx, args),
        Zpopmax => zsets::zpopmax(ctx, args),
        Zscan => zsets::zscan(ctx, args),
        Lpush => lists::lpush(ctx, args),
        Rpush => lists::rpush(ctx, args),
        Lpushx => lists::lpushx(ctx, args),
        Rpushx => lists::rpushx(ctx, args),
        Lpop => lists::lpop(ctx, args),
        Rpop => lists::rpop(ctx, args),
        Lrange => lists::lrange(ctx, args),
        Llen => lists::llen(ctx, args),
        Lindex => lists::lindex(ctx, args),
        Lset => lists::lset(ctx, args),
        Lrem => lists::lrem(ctx, args),
        Ltrim => lists::ltrim(ctx, args),
        Lpos => lists::lpos(ctx, args),
        Linsert => lists::linsert(ctx, args),
        Lmove => listmove::lmove(ctx, args),
        Rpoplpush => listmove::rpoplpush(ctx, args),
        Blmove => listmove::blmove(ctx, args),
        Brpoplpush => listmove::brpoplpush(ctx, args),
        Blpop => blocking::blpop(ctx, args),
        Brpop => blocking::brpop(ctx, args),
    }
}
