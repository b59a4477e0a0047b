//! Looking up a key that must hold one kind of collection: the one place
//! that decides between "missing", "this kind" and WRONGTYPE, shared by the
//! hash, set, list and sorted-set commands.

use crate::exec::Ctx;
use crate::keyspace::Db;
use crate::memory::Tracked;
use crate::signals::class;
use crate::value::{Entry, HashValue, ListValue, SetValue, Value, ZSetValue};
use proto::{errors, Reply};

/// A collection type stored in a [`Value`] variant.
pub trait Collection: Default + Sized {
    fn of(value: &mut Value) -> Option<&mut Self>;
    fn wrap(self) -> Value;
}

/// Ties a collection type to its `Value` variant.
macro_rules! collection {
    ($($ty:ty => $variant:ident),* $(,)?) => {$(
        impl Collection for $ty {
            fn of(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(c) => Some(&mut ***c),
                    _ => None,
                }
            }
            fn wrap(self) -> Value {
                Value::$variant(Box::new(Tracked::new(self)))
            }
        }
    )*};
}

collection!(HashValue => Hash, SetValue => Set, ListValue => List, ZSetValue => ZSet);

pub fn wrong_type() -> Reply {
    Reply::error(errors::WRONGTYPE)
}

/// The collection at `key` for reading (a keyspace hit or miss is
/// counted), None if the key is missing, WRONGTYPE if it holds another kind.
pub fn read<'a, T: Collection>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut T>, Reply> {
    let now = ctx.now;
    match ctx.db().get_read(key, now) {
        None => Ok(None),
        Some(entry) => T::of(&mut entry.value).map(Some).ok_or_else(wrong_type),
    }
}

/// The collection at `key` for writing, None if the key is missing.
pub fn existing<'a, T: Collection>(
    db: &'a mut Db,
    key: &[u8],
    now: u64,
) -> Result<Option<&'a mut T>, Reply> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(entry) => T::of(&mut entry.value).map(Some).ok_or_else(wrong_type),
    }
}

/// The collection at `key` for writing, created empty if missing (with
/// Redis's `new` event). Callers check everything that could fail before
/// calling, so that no empty collection is left behind by a failed command.
pub fn create<'a, T: Collection>(ctx: &'a mut Ctx, key: &[u8]) -> Result<&'a mut T, Reply> {
    let now = ctx.now;
    if !ctx.db().contains(key, now) {
        ctx.db().insert(
            key,
            Entry {
                value: T::default().wrap(),
                expire_at: 0,
            },
            now,
        );
        ctx.notify(class::NEW, "new", key);
    }
    existing(ctx.db(), key, now)?.ok_or_else(wrong_type)
}
