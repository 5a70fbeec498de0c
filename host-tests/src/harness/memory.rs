//! Checked access to guest memory: every pointer and length from the guest is
//! bounds-checked, and data handed back is placed in memory the guest allocated.

use crate::harness::state::HostState;
use wasmtime::{Caller, Extern, Memory};

/// Why guest memory could not be used.
#[derive(Debug)]
pub struct BadMemory;

/// The ABI status for a host call whose only failure is guest memory it could not use.
pub fn status_of(result: Result<(), BadMemory>) -> crate::harness::status::HostResult {
    use crate::harness::status::Status;
    match result {
        Ok(()) => Status::Ok.into(),
        Err(_) => Status::InvalidMemoryAccess.into(),
    }
}

fn memory(caller: &mut Caller<'_, HostState>) -> Result<Memory, BadMemory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(BadMemory),
    }
}

/// A copy of `len` bytes at `ptr`.
pub fn read(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Result<Vec<u8>, BadMemory> {
    let memory = memory(caller)?;
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    let end = start.checked_add(len).ok_or(BadMemory)?;
    memory.data(&caller).get(start..end).map(<[u8]>::to_vec).ok_or(BadMemory)
}

pub fn read_string(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Result<String, BadMemory> {
    read(caller, ptr, len).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

pub fn write(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> Result<(), BadMemory> {
    let memory = memory(caller)?;
    let start = ptr as u32 as usize;
    let end = start.checked_add(bytes.len()).ok_or(BadMemory)?;
    memory.data_mut(caller).get_mut(start..end).ok_or(BadMemory)?.copy_from_slice(bytes);
    Ok(())
}

pub fn write_u32(caller: &mut Caller<'_, HostState>, ptr: i32, value: u32) -> Result<(), BadMemory> {
    write(caller, ptr, &value.to_le_bytes())
}

pub fn write_u64(caller: &mut Caller<'_, HostState>, ptr: i32, value: u64) -> Result<(), BadMemory> {
    write(caller, ptr, &value.to_le_bytes())
}

/// Copies `bytes` into memory from the guest's own `proxy_on_memory_allocate`, and
/// writes its address and size to `ptr_ptr` and `size_ptr`, as the ABI returns data.
pub fn return_bytes(caller: &mut Caller<'_, HostState>, bytes: &[u8], ptr_ptr: i32, size_ptr: i32) -> wasmtime::Result<Result<(), BadMemory>> {
    let Some(Extern::Func(allocate)) = caller.get_export("proxy_on_memory_allocate") else {
        return Ok(Err(BadMemory));
    };
    let allocate = allocate.typed::<i32, i32>(&caller)?;
    let address = allocate.call(&mut *caller, bytes.len() as i32)?;
    if address == 0 && !bytes.is_empty() {
        return Ok(Err(BadMemory));
    }
    Ok(write(caller, address, bytes)
        .and_then(|()| write_u32(caller, ptr_ptr, address as u32))
        .and_then(|()| write_u32(caller, size_ptr, bytes.len() as u32)))
}

/// proxy-wasm's header map wire format: count, then (name length, value length)
/// pairs, then each name and value followed by a NUL.
pub fn serialize_map(map: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(map.len() as u32).to_le_bytes());
    for (name, value) in map {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    for (name, value) in map {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    out
}

/// The inverse of [`serialize_map`]; `None` if the guest sent something malformed.
pub fn deserialize_map(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let word = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let count = word(0)?;
    let mut data = 4usize.checked_add(count.checked_mul(8)?)?;
    let mut map = Vec::with_capacity(count.min(1024));
    for i in 0..count {
        let (name_len, value_len) = (word(4 + i * 8)?, word(8 + i * 8)?);
        let name = bytes.get(data..data + name_len)?;
        data += name_len + 1;
        let value = bytes.get(data..data + value_len)?;
        data += value_len + 1;
        map.push((String::from_utf8_lossy(name).into_owned(), value.to_vec()));
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_survives_serialisation() {
        let map = vec![(":path".to_owned(), b"/a".to_vec()), ("x".to_owned(), vec![0xff, 0])];
        assert_eq!(deserialize_map(&serialize_map(&map)).unwrap(), map);
    }

    #[test]
    fn a_truncated_map_is_refused_not_misread() {
        let bytes = serialize_map(&[("name".to_owned(), b"value".to_vec())]);
        assert!(deserialize_map(&bytes[..bytes.len() - 3]).is_none());
        assert!(deserialize_map(&[255, 255, 255, 255]).is_none());
    }
}
