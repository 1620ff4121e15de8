// The HDF5 filter plugin for the LOCO-I flow filter, so that h5py, h5dump and any HDF5 program
// read flowgen's shards: put this library's folder in HDF5_PLUGIN_PATH.
#include <H5PLextern.h>
#include <hdf5.h>

extern "C" const H5Z_class2_t mme_loco_filter_class;

extern "C" H5PL_type_t H5PLget_plugin_type(void) {
  return H5PL_TYPE_FILTER;
}
extern "C" const void* H5PLget_plugin_info(void) {
  return &mme_loco_filter_class;
}
