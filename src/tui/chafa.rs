//! Pictures in text cells chosen by libchafa (the `chafa` feature), with a symbol set that the
//! terminal's font can draw.
//!
//! ratatui-image's own chafa support asks libchafa for every symbol it knows, sextants, wedges
//! and the other legacy-computing symbols included. Few fonts have those (DejaVu Sans Mono,
//! Menlo and the X fonts do not), and a terminal without the glyph draws an empty cell in the
//! background colour, so such a picture had less detail than plain half-blocks (in xterm through
//! tmux, SSIM 0.47 against half-blocks' 0.54 with chafa's full set, 0.66 with this one; see
//! tests/it/real_terminals.rs). The set here is chafa's own default for terminals: block
//! elements (halves, quadrants, eighths), box drawing and space, without double-width or
//! inverted symbols; all of them are in every common monospace font. libchafa is linked through
//! ratatui-image's `chafa-dyn` feature (its build script finds the library with pkg-config).

use image::RgbImage;

/// One cell: the symbol, its foreground and its background colour.
pub type SymbolCell = (char, [u8; 3], [u8; 3]);

/// Pixels of a cell as libchafa works on them: its symbols are 8x8 bitmaps.
pub const CELL_PX: u32 = 8;

#[cfg(feature = "chafa")]
mod ffi {
    use std::ffi::c_void;

    // chafa-symbol-map.h
    pub const TAG_SPACE: u32 = 1 << 0;
    pub const TAG_BLOCK: u32 = 1 << 3;
    pub const TAG_BORDER: u32 = 1 << 4;
    pub const TAG_INVERTED: u32 = 1 << 10;
    pub const TAG_WIDE: u32 = 1 << 18;
    // chafa-canvas-config.h: ChafaCanvasMode
    pub const CANVAS_MODE_TRUECOLOR: u32 = 0;
    // chafa-common.h: ChafaPixelType
    pub const PIXEL_RGB8: u32 = 8;

    #[link(name = "chafa")]
    unsafe extern "C" {
        pub fn chafa_symbol_map_new() -> *mut c_void;
        pub fn chafa_symbol_map_add_by_tags(map: *mut c_void, tags: u32);
        pub fn chafa_symbol_map_remove_by_tags(map: *mut c_void, tags: u32);
        pub fn chafa_symbol_map_unref(map: *mut c_void);
        pub fn chafa_canvas_config_new() -> *mut c_void;
        pub fn chafa_canvas_config_set_symbol_map(config: *mut c_void, map: *const c_void);
        pub fn chafa_canvas_config_set_geometry(config: *mut c_void, width: i32, height: i32);
        pub fn chafa_canvas_config_set_canvas_mode(config: *mut c_void, mode: u32);
        pub fn chafa_canvas_config_unref(config: *mut c_void);
        pub fn chafa_canvas_new(config: *const c_void) -> *mut c_void;
        pub fn chafa_canvas_draw_all_pixels(
            canvas: *mut c_void,
            pixel_type: u32,
            pixels: *const u8,
            width: i32,
            height: i32,
            rowstride: i32,
        );
        pub fn chafa_canvas_get_char_at(canvas: *mut c_void, x: i32, y: i32) -> u32;
        pub fn chafa_canvas_get_colors_at(
            canvas: *mut c_void,
            x: i32,
            y: i32,
            fg: *mut i32,
            bg: *mut i32,
        );
        pub fn chafa_canvas_unref(canvas: *mut c_void);
    }
}

/// `img` (any size; [`CELL_PX`] a side per cell is what libchafa works at) as `cols` x `rows`
/// cells of symbols, row by row. `None` in a build without libchafa.
#[cfg(feature = "chafa")]
pub fn encode(img: &RgbImage, cols: u16, rows: u16) -> Option<Vec<SymbolCell>> {
    use ffi::*;
    let (w, h) = (
        i32::try_from(img.width()).ok()?,
        i32::try_from(img.height()).ok()?,
    );
    let stride = w.checked_mul(3)?;
    if w == 0 || h == 0 || cols == 0 || rows == 0 {
        return None;
    }
    let unpack = |c: i32| [(c >> 16) as u8, (c >> 8) as u8, c as u8];
    let mut cells = Vec::with_capacity(usize::from(cols) * usize::from(rows));
    // SAFETY: every object is created, used and released here, on this thread; the pixel
    // buffer is `img`'s, `h` rows of `stride` bytes, alive for the call that reads it; the
    // canvas is read only within its geometry.
    unsafe {
        let map = chafa_symbol_map_new();
        chafa_symbol_map_add_by_tags(map, TAG_BLOCK | TAG_BORDER | TAG_SPACE);
        chafa_symbol_map_remove_by_tags(map, TAG_WIDE | TAG_INVERTED);
        let config = chafa_canvas_config_new();
        chafa_canvas_config_set_canvas_mode(config, CANVAS_MODE_TRUECOLOR);
        chafa_canvas_config_set_geometry(config, i32::from(cols), i32::from(rows));
        // The config keeps its own copy of the map.
        chafa_canvas_config_set_symbol_map(config, map);
        chafa_symbol_map_unref(map);
        let canvas = chafa_canvas_new(config);
        chafa_canvas_config_unref(config);
        if canvas.is_null() {
            return None;
        }
        chafa_canvas_draw_all_pixels(canvas, PIXEL_RGB8, img.as_raw().as_ptr(), w, h, stride);
        for y in 0..i32::from(rows) {
            for x in 0..i32::from(cols) {
                let c = chafa_canvas_get_char_at(canvas, x, y);
                let (mut fg, mut bg) = (0i32, 0i32);
                chafa_canvas_get_colors_at(canvas, x, y, &mut fg, &mut bg);
                // A control character (chafa's filler after a wide symbol) would break the
                // terminal's line: a space in the background colour instead.
                let ch = char::from_u32(c).filter(|c| !c.is_control()).unwrap_or(' ');
                cells.push((ch, unpack(fg), unpack(bg)));
            }
        }
        chafa_canvas_unref(canvas);
    }
    Some(cells)
}

#[cfg(not(feature = "chafa"))]
pub fn encode(_img: &RgbImage, _cols: u16, _rows: u16) -> Option<Vec<SymbolCell>> {
    None
}

#[cfg(all(test, feature = "chafa"))]
mod tests {
    use super::*;

    #[test]
    fn a_picture_is_drawn_with_the_symbols_every_font_has() {
        // Left half black, right half white, with the edge inside the middle cells.
        let img = RgbImage::from_fn(36, 16, |x, _| {
            if x < 18 {
                image::Rgb([0, 0, 0])
            } else {
                image::Rgb([255, 255, 255])
            }
        });
        let cells = encode(&img, 9, 2).unwrap();
        assert_eq!(cells.len(), 18);
        for (ch, _, _) in &cells {
            let u = u32::from(*ch);
            assert!(
                *ch == ' ' || (0x2500..=0x259F).contains(&u),
                "{ch:?} (U+{u:04X}) is not a block element, box drawing or space"
            );
        }
        // The middle cell of a row shows both colours, split by a vertical symbol.
        let (ch, fg, bg) = cells[4];
        assert!(
            matches!(ch, '▌' | '▐' | '▍' | '▋' | '▊' | '▉' | '▎' | '▏'),
            "{ch:?}"
        );
        assert_ne!(fg, bg);
    }
}
