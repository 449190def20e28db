//! The door to a project file for the screens: open it once, learn who is annotating and where
//! the image files are, then open one of the three sessions on it (or describe one image). The
//! terminal code goes through this and the sessions, never through the store.

use std::path::{Path, PathBuf};

use crate::analysis::classify::ClassifyItem;
use crate::error::Result;
use crate::store::{ImageRow, Store};

use super::{ClassifySession, GridOptions, GridSession, Session, SessionOptions};

pub struct Project {
    store: Store,
}

impl Project {
    pub fn open(path: &Path) -> Result<Project> {
        Ok(Project {
            store: Store::open(path)?,
        })
    }

    pub fn path(&self) -> &Path {
        self.store.path()
    }

    /// Who answers: `given`, else the annotator an annotator's file was made for, else the login
    /// name.
    pub fn annotator(&self, given: Option<String>) -> Result<String> {
        match given {
            // Stored in every answer: in NFC, without control characters, and not a look-alike
            // of another name of the project (text::NameSet).
            Some(a) => {
                let a = crate::text::nfc(&a).into_owned();
                crate::text::check_field("annotator", &a).map_err(crate::Error::msg)?;
                let names = self.store.annotator_names()?;
                crate::text::NameSet::new(names.iter().map(String::as_str))
                    .admit(&a)
                    .map_err(crate::Error::msg)?;
                Ok(a)
            }
            None => Ok(self
                .store
                .checkout_annotator()?
                .unwrap_or_else(super::login_name)),
        }
    }

    /// The image folder: `given`, else the one the project was made from.
    pub fn image_root(&self, given: Option<&Path>) -> Option<PathBuf> {
        given
            .map(Path::to_path_buf)
            .or_else(|| self.store.meta().ok()?.image_root.map(PathBuf::from))
    }

    /// The file itself, when it carries its images (`checkout --with-images`) and no folder is
    /// `given`: the screens and `show` then read the images from it.
    pub fn carried_images(&self, given: Option<&Path>) -> Result<Option<PathBuf>> {
        if given.is_some() {
            return Ok(None);
        }
        Ok(self
            .store
            .holds_images()?
            .then(|| self.store.path().to_path_buf()))
    }

    pub fn image(&self, key: &str) -> Result<Option<ImageRow>> {
        self.store.image(key)
    }

    /// The text `labelvet show` prints about `image` (see [`super::describe`]).
    pub fn describe(&self, image: &str, annotator: Option<&str>) -> Result<String> {
        super::describe(&self.store, image, annotator)
    }

    /// The question-by-question session.
    pub fn questions(self, opts: SessionOptions) -> Result<Session> {
        Session::open(self.store, opts)
    }

    /// The expert's review of the questions `spec` selects (the disputed ones without a filter).
    pub fn review(self, expert: &str, spec: &super::QueueSpec) -> Result<super::ReviewSession> {
        super::ReviewSession::open(self.store, expert, spec)
    }

    /// The grid session: one label over pages of images.
    pub fn grid(self, opts: GridOptions) -> Result<GridSession> {
        GridSession::open(self.store, opts)
    }

    /// The classify session over `items`.
    pub fn classify(
        self,
        annotator: &str,
        items: Vec<ClassifyItem>,
        describe: &str,
    ) -> Result<ClassifySession> {
        ClassifySession::open(self.store, annotator, items, describe)
    }
}
