//! Cutting a small JPEG into header and entropy-coded scan, and splicing
//! kept scans into one file with restart markers. Pure byte work, no I/O.

use std::ops::Range;

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOF0: u8 = 0xC0;
const DHT: u8 = 0xC4;
const SOS: u8 = 0xDA;
const DRI: u8 = 0xDD;
const RST0: u8 = 0xD0;

/// Where the parts of a single-scan baseline JPEG lie.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Layout {
    /// Offset of the SOF0 frame height (two bytes, big-endian).
    pub sof_height: usize,
    /// The SOS segment, marker included.
    pub sos: Range<usize>,
    /// The entropy-coded data: after SOS, before EOI.
    pub scan: Range<usize>,
}

fn be16(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]) as usize)
}

/// Finds the frame header, the scan header and the scan of a JPEG written by
/// `jpeg-encoder` (SOI, APP0, DQT, SOF0, DHT, SOS, data, EOI). Anything else
/// (progressive frames, a restart interval of its own, trailing bytes) is refused.
pub(super) fn layout(jpeg: &[u8]) -> Result<Layout, String> {
    if jpeg.get(..2) != Some(&[0xFF, SOI]) {
        return Err("band JPEG does not start with SOI".into());
    }
    if jpeg.len() < 4 || jpeg.get(jpeg.len() - 2..) != Some(&[0xFF, EOI]) {
        return Err("band JPEG does not end with EOI".into());
    }
    let mut pos = 2;
    let mut sof_height = None;
    loop {
        let (Some(&0xFF), Some(&marker), Some(len)) =
            (jpeg.get(pos), jpeg.get(pos + 1), be16(jpeg, pos + 2))
        else {
            return Err(format!("band JPEG: no marker segment at byte {pos}"));
        };
        let end = pos + 2 + len;
        if len < 2 || end > jpeg.len() - 2 {
            return Err(format!(
                "band JPEG: segment {marker:#04x} overruns the file"
            ));
        }
        match marker {
            SOF0 => sof_height = Some(pos + 5),
            SOS => {
                let sof_height = sof_height.ok_or("band JPEG: SOS before SOF0")?;
                return Ok(Layout {
                    sof_height,
                    sos: pos..end,
                    scan: end..jpeg.len() - 2,
                });
            }
            0xC1..=0xCF if marker != DHT && marker != 0xC8 && marker != 0xCC => {
                return Err(format!("band JPEG is not baseline (SOF {marker:#04x})"));
            }
            DRI => return Err("band JPEG already has a restart interval".into()),
            _ => {}
        }
        pos = end;
    }
}

/// The header of the whole frame: the band's header with the frame height
/// set to `height`, plus a DRI segment of `restart_interval` MCUs before SOS.
pub(super) fn frame_header(
    band: &[u8],
    at: &Layout,
    height: u16,
    restart_interval: u16,
) -> Result<Vec<u8>, String> {
    let (Some(head), Some(sos)) = (band.get(..at.sos.start), band.get(at.sos.clone())) else {
        return Err("band JPEG layout does not fit the band".into());
    };
    let mut out = Vec::with_capacity(head.len() + 6 + sos.len());
    out.extend_from_slice(head);
    let h = out
        .get_mut(at.sof_height..at.sof_height + 2)
        .ok_or("band JPEG: SOF0 is cut short")?;
    h.copy_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&[0xFF, DRI, 0, 4]);
    out.extend_from_slice(&restart_interval.to_be_bytes());
    out.extend_from_slice(sos);
    Ok(out)
}

/// Header + scan 0 + RST0 + scan 1 + RST1 … (RSTn counts 0..=7 and wraps) + EOI.
pub(super) fn splice<'a>(
    header: &[u8],
    scans: impl ExactSizeIterator<Item = &'a [u8]> + Clone,
) -> Vec<u8> {
    let len = header.len() + scans.clone().map(<[u8]>::len).sum::<usize>() + 2 * scans.len() + 2;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(header);
    for (i, scan) in scans.enumerate() {
        if i > 0 {
            out.extend_from_slice(&[0xFF, RST0 + ((i - 1) % 8) as u8]);
        }
        out.extend_from_slice(scan);
    }
    out.extend_from_slice(&[0xFF, EOI]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Vec<u8> {
        let mut v = vec![0xFF, SOI];
        v.extend_from_slice(&[0xFF, 0xE0, 0, 4, 1, 2]); // APP0
        v.extend_from_slice(&[0xFF, SOF0, 0, 8, 8, 0, 16, 0, 32, 0]); // SOF0 16 high, 32 wide
        v.extend_from_slice(&[0xFF, SOS, 0, 3, 9]); // SOS
        v.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34]); // scan with a stuffed byte
        v.extend_from_slice(&[0xFF, EOI]);
        v
    }

    #[test]
    fn finds_sof_sos_and_scan() {
        let j = tiny();
        let at = layout(&j).unwrap();
        assert_eq!(&j[at.sof_height..at.sof_height + 2], &[0, 16]);
        assert_eq!(&j[at.sos.clone()], &[0xFF, SOS, 0, 3, 9]);
        assert_eq!(&j[at.scan.clone()], &[0x12, 0xFF, 0x00, 0x34]);
    }

    #[test]
    fn header_gets_height_and_dri() {
        let j = tiny();
        let at = layout(&j).unwrap();
        let h = frame_header(&j, &at, 0x1234, 2).unwrap();
        assert_eq!(&h[at.sof_height..at.sof_height + 2], &[0x12, 0x34]);
        assert_eq!(&h[at.sos.start..at.sos.start + 6], &[0xFF, DRI, 0, 4, 0, 2]);
        assert!(h.ends_with(&[0xFF, SOS, 0, 3, 9]));
    }

    #[test]
    fn refuses_what_it_cannot_splice() {
        assert!(layout(&[]).is_err());
        assert!(layout(&[0xFF, SOI, 0xFF, EOI]).is_err());
        let mut j = tiny();
        j[9] = 0xC2; // progressive SOF
        assert!(layout(&j).is_err());
        let mut j = tiny();
        j[5] = 0x40; // APP0 length runs past the end
        assert!(layout(&j).is_err());
        let mut j = tiny();
        j.pop();
        assert!(layout(&j).is_err());
    }

    #[test]
    fn restart_markers_cycle() {
        let scans: Vec<&[u8]> = vec![&[1]; 10];
        let out = splice(&[0xAA], scans.iter().copied());
        let markers: Vec<u8> = out
            .windows(2)
            .filter(|w| w[0] == 0xFF)
            .map(|w| w[1])
            .collect();
        assert_eq!(
            markers,
            vec![0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD0, EOI]
        );
        assert_eq!(out.len(), 1 + 10 + 18 + 2);
    }
}
