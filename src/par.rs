//! Data parallelism over slices: one chunk per core, each mapped on its own scoped thread,
//! results in input order.

/// Splits `items` into one chunk per core (a single chunk below `min_len` items or on one
/// core) and maps each with `f(offset, chunk)` on its own thread. The results come back in
/// chunk order, so a caller that concatenates them sees the sequential order.
pub fn map_chunks<T: Sync, R: Send>(
    items: &[T],
    min_len: usize,
    f: impl Fn(usize, &[T]) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if items.len() < min_len.max(2) || threads == 1 {
        return vec![f(0, items)];
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .enumerate()
            .map(|(n, part)| scope.spawn(move || f(n * chunk, part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_come_back_in_order_with_their_offsets() {
        let items: Vec<usize> = (0..100_003).collect();
        let parts = super::map_chunks(&items, 10, |offset, chunk| {
            assert_eq!(chunk[0], offset);
            chunk.iter().map(|x| x * 2).collect::<Vec<_>>()
        });
        let joined: Vec<usize> = parts.into_iter().flatten().collect();
        assert_eq!(joined, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }
}
