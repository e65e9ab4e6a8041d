//! The bits of a JPEG-LS scan (ISO/IEC 14495-1, A.1): most significant bit first, where a
//! 0xFF byte is followed by a byte whose top bit is a stuffed 0, and 0xFF followed by a byte
//! with its top bit set is a marker, the end of the scan's bits.

/// Bits are taken from the top of a 64-bit cache.
pub(super) struct Bits<'a> {
    data: &'a [u8],
    /// The next byte to load.
    at: usize,
    /// The first 0xFF byte at or after `at` (or the end).
    next_ff: usize,
    cache: u64,
    /// Bits of `cache` that are data, from the top; negative when more were taken than there
    /// were (past the end: zeros), which [`Bits::check`] turns into an error.
    valid: i32,
}

/// How many bits the cache is filled to, leaving room for a whole byte more.
const FULL: i32 = 56;

impl<'a> Bits<'a> {
    /// The bits of the scan starting at `data[0]`.
    pub(super) fn new(data: &'a [u8]) -> Self {
        let mut bits = Bits {
            data,
            at: 0,
            next_ff: 0,
            cache: 0,
            valid: 0,
        };
        bits.find_ff();
        bits.fill();
        bits
    }

    fn find_ff(&mut self) {
        self.next_ff =
            memchr::memchr(0xFF, &self.data[self.at..]).map_or(self.data.len(), |i| self.at + i);
    }

    /// Loads bytes until the cache holds at least [`FULL`] bits or a marker (or the end)
    /// comes.
    fn fill(&mut self) {
        if self.valid < 0 {
            return;
        }
        if self.at + 8 <= self.next_ff {
            // No 0xFF among the next eight bytes: load them at once. Bytes only partly loaded
            // are loaded again, in the same place, by the next fill.
            let word = u64::from_be_bytes(self.data[self.at..self.at + 8].try_into().unwrap());
            self.cache |= word >> self.valid;
            let whole = (64 - self.valid) / 8;
            self.at += whole as usize;
            self.valid += whole * 8;
            return;
        }
        while self.valid < FULL {
            let Some(&byte) = self.data.get(self.at) else {
                return;
            };
            if byte == 0xFF {
                match self.data.get(self.at + 1) {
                    // A marker: the scan's bits end here.
                    None => return,
                    Some(next) if next & 0x80 != 0 => return,
                    // Room for the 15 bits of the pair, or enough bits for any read.
                    Some(_) if self.valid > 49 => return,
                    Some(_) => {}
                }
            }
            self.cache |= u64::from(byte) << (FULL - self.valid);
            self.valid += 8;
            self.at += 1;
            if byte == 0xFF {
                // The next byte's top bit is stuffing: its seven others follow at once.
                let next = self.data[self.at];
                self.cache |= u64::from(next & 0x7F) << (FULL + 1 - self.valid);
                self.valid += 7;
                self.at += 1;
                self.find_ff();
            }
        }
    }

    fn skip(&mut self, n: i32) {
        // All 64 bits at once when a full cache ends in its only 1 bit.
        self.cache = self.cache.checked_shl(n as u32).unwrap_or(0);
        self.valid -= n;
    }

    /// The next `n` bits (1 to 32) as a number.
    pub(super) fn read(&mut self, n: i32) -> u32 {
        debug_assert!((1..=32).contains(&n));
        if self.valid < n {
            self.fill();
        }
        let value = (self.cache >> (64 - n)) as u32;
        self.skip(n);
        value
    }

    pub(super) fn bit(&mut self) -> bool {
        self.read(1) == 1
    }

    /// The number of 0 bits before the next 1 bit (which is taken too); `None` past `limit`
    /// zeros.
    pub(super) fn unary(&mut self, limit: u32) -> Option<u32> {
        let mut zeros = 0;
        loop {
            if self.valid < 32 {
                self.fill();
            }
            let run = self.cache.leading_zeros().min(self.valid.max(0) as u32);
            if (run as i32) < self.valid {
                self.skip(run as i32 + 1);
                return Some(zeros + run);
            }
            if self.valid <= 0 {
                // Nothing left to read: the scan is cut short.
                self.valid = -1;
                return None;
            }
            zeros += run;
            self.skip(run as i32);
            if zeros > limit {
                return None;
            }
        }
    }

    /// Whether every bit taken was in the scan (none read past its end).
    pub(super) fn check(&self) -> Result<(), String> {
        if self.valid < 0 {
            return Err("the scan's data ends before its last sample".into());
        }
        Ok(())
    }

    /// The marker that ends the scan's bits: the first 0xFF, at or after the bytes not yet
    /// loaded, followed by a byte with its top bit set (stuffed pairs are data). What lies
    /// between the last sample's bits and it is padding.
    pub(super) fn marker(&self) -> Option<usize> {
        let mut at = self.at;
        loop {
            at += memchr::memchr(0xFF, self.data.get(at..)?)?;
            if self.data.get(at + 1).is_some_and(|b| b & 0x80 != 0) {
                return Some(at);
            }
            at += 2;
        }
    }

    /// Reads the restart marker `RSTm` (fill bytes before it allowed) that ends an interval,
    /// and the bits after it, from scratch.
    pub(super) fn restart(&mut self, m: u8) -> Result<(), String> {
        self.check()?;
        let missing = || format!("restart marker RST{m} not found where its interval ends");
        let at = self.marker().ok_or_else(missing)?;
        let ffs = self.data[at..].iter().take_while(|&&b| b == 0xFF).count();
        if self.data.get(at + ffs) != Some(&(0xD0 + m)) {
            return Err(missing());
        }
        self.at = at + ffs + 1;
        self.cache = 0;
        self.valid = 0;
        self.find_ff();
        self.fill();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffed_bits_and_markers() {
        // 0xFF then 0x55 (stuffed 0 bit, then 1010101), then 0x80 0x00, then a marker.
        let data = [0xFF, 0x55, 0x80, 0x00, 0xFF, 0xD9];
        let mut bits = Bits::new(&data);
        assert_eq!(bits.read(8), 0xFF);
        assert_eq!(bits.read(7), 0x55);
        assert_eq!(bits.unary(64), Some(0));
        assert_eq!(bits.read(15), 0);
        assert!(bits.check().is_ok());
        assert_eq!(bits.marker(), Some(4));
        // Past the marker: zeros, and an error.
        bits.read(8);
        assert!(bits.check().is_err());
    }

    #[test]
    fn a_full_cache_of_63_zeros_and_a_one() {
        let data = [0, 0, 0, 0, 0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 0];
        let mut bits = Bits::new(&data);
        assert_eq!(bits.unary(100), Some(63));
        assert!(bits.bit());
        assert!(bits.check().is_ok());
    }

    #[test]
    fn unary_counts_zeros_across_bytes() {
        let data = [0x00, 0x00, 0x01, 0xC0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut bits = Bits::new(&data);
        assert_eq!(bits.unary(64), Some(23));
        assert!(bits.bit());
        assert_eq!(bits.unary(64), Some(0));
        assert_eq!(bits.unary(8), None, "more zeros than the limit");
    }
}
