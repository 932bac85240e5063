//! The machine's files as a cluster process reads them: DataFusion's local store, except
//! that listing a path that is not there is an error.
//!
//! DataFusion lists a table's path as a prefix when no file has that name, and a prefix
//! with nothing under it is a table without rows. On one machine that is what a table over
//! an empty directory is; on a cluster it is also what a table over a path this machine
//! lacks would silently be — a scheduler that does not see the kernel's files would answer
//! `COUNT(*)` with 0. So the scheduler and the executors refuse to list what is not there.

use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use futures::stream::{self, BoxStream, StreamExt};
use std::fmt;

/// The local file system, refusing to list a path that does not exist.
#[derive(Debug, Default)]
pub(crate) struct LocalFiles {
    files: LocalFileSystem,
}

impl LocalFiles {
    /// `Err` when `prefix` names nothing on this machine.
    fn exists(prefix: Option<&Path>) -> Result<()> {
        let Some(prefix) = prefix else {
            return Ok(());
        };
        let local = std::path::PathBuf::from(format!("/{prefix}"));
        match local.exists() {
            true => Ok(()),
            false => Err(datafusion::object_store::Error::NotFound {
                path: local.display().to_string(),
                source: format!(
                    "{} does not exist on this machine of the cluster",
                    local.display()
                )
                .into(),
            }),
        }
    }
}

impl fmt::Display for LocalFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalFiles({})", self.files)
    }
}

#[async_trait::async_trait]
impl ObjectStore for LocalFiles {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        options: PutOptions,
    ) -> Result<PutResult> {
        self.files.put_opts(location, payload, options).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        options: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.files.put_multipart_opts(location, options).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.files.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> Result<Vec<bytes::Bytes>> {
        self.files.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.files.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        match Self::exists(prefix) {
            Ok(()) => self.files.list(prefix),
            Err(error) => stream::once(async { Err(error) }).boxed(),
        }
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        match Self::exists(prefix) {
            Ok(()) => self.files.list_with_offset(prefix, offset),
            Err(error) => stream::once(async { Err(error) }).boxed(),
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        Self::exists(prefix)?;
        self.files.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.files.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.files.rename_opts(from, to, options).await
    }
}
