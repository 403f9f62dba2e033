//! Pictures as PNG bytes: files for snapshot, inline images for kitty and iTerm2.

use super::IndexedImage;

/// Encodes pixels with the `png` crate's fast (fdeflate) setting. Enlarged tiles repeat rows,
/// which the Up filter turns into zeros at a fraction of Adaptive filtering's cost.
fn encode(
    width: u32,
    height: u32,
    color: png::ColorType,
    palette: Option<Vec<u8>>,
    data: &[u8],
) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::with_capacity(data.len() / 4);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::Filter::Up);
    if let Some(palette) = palette {
        encoder.set_palette(palette);
    }
    let mut writer = encoder.write_header()?;
    writer.write_image_data(data)?;
    writer.finish()?;
    Ok(out)
}

/// An 8-bit palette PNG: a third of the bytes of RGB for the same picture.
pub fn encode_indexed(img: &IndexedImage) -> Result<Vec<u8>, png::EncodingError> {
    let palette = img.palette().concat();
    encode(
        img.width,
        img.height,
        png::ColorType::Indexed,
        Some(palette),
        &img.indices,
    )
}

pub fn encode_rgb(img: &image::RgbImage) -> Result<Vec<u8>, png::EncodingError> {
    encode(
        img.width(),
        img.height(),
        png::ColorType::Rgb,
        None,
        img.as_raw(),
    )
}
